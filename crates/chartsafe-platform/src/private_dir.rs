//! Folders only this user can enter, for decrypted copies of files opened
//! in other programs (docs/THREAT_MODEL.md §6.1).
//!
//! - Linux and macOS: mode 0700, set again if the folder existed.
//! - Windows: a protected access list (no inherited entries) with one
//!   entry, full control for the current user's SID, inherited by
//!   everything inside (SDDL `D:P(A;OICI;FA;;;<SID>)`). Administrators and
//!   SYSTEM get no entry; they can still take ownership, as root can read
//!   a 0700 folder.

use std::io;
use std::path::Path;

/// Creates `dir` (and missing parents) so that only this user can list or
/// open what is inside; an existing folder is restricted again.
///
/// # Errors
///
/// The folder could not be created or restricted.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(windows)]
    windows::restrict(dir)?;
    Ok(())
}

/// The Windows security descriptor (SDDL) that lets only `sid` in: a
/// protected DACL with one full-control entry inherited by files and
/// folders inside. `None` unless `sid` has the shape of a SID
/// (`S-1-` then dash-separated numbers), so nothing else can be spliced in.
pub fn owner_only_sddl(sid: &str) -> Option<String> {
    let rest = sid.strip_prefix("S-1-")?;
    let ok = !rest.is_empty()
        && rest
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| format!("D:P(A;OICI;FA;;;{sid})"))
}

#[cfg(windows)]
#[allow(unsafe_code)]
mod windows {
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::path::Path;

    use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, ERROR_SUCCESS, HANDLE};
    use windows_sys::Win32::Security::Authorization::{
        ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW,
        SetNamedSecurityInfoW, SDDL_REVISION_1, SE_FILE_OBJECT,
    };
    use windows_sys::Win32::Security::{
        GetSecurityDescriptorDacl, GetTokenInformation, TokenUser, ACL, DACL_SECURITY_INFORMATION,
        PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, TOKEN_QUERY, TOKEN_USER,
    };
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

    fn wide(s: &std::ffi::OsStr) -> Vec<u16> {
        s.encode_wide().chain(std::iter::once(0)).collect()
    }

    /// The current user's SID as text (`S-1-5-21-…`).
    fn current_user_sid() -> io::Result<String> {
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: the current-process pseudo handle and a valid out pointer.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // TOKEN_USER holds pointers: a u64 buffer keeps it aligned.
        let mut buf = vec![0u64; 64];
        let mut len = 0u32;
        let size = u32::try_from(buf.len() * 8).unwrap_or(u32::MAX);
        // SAFETY: `buf` has `size` writable bytes; `token` is open.
        let ok = unsafe {
            GetTokenInformation(token, TokenUser, buf.as_mut_ptr().cast(), size, &mut len)
        };
        let err = io::Error::last_os_error();
        // SAFETY: `token` was opened above and is closed once.
        unsafe { CloseHandle(token) };
        if ok == 0 {
            return Err(err);
        }
        // SAFETY: GetTokenInformation(TokenUser) filled `buf` with a
        // TOKEN_USER (and the SID it points to, inside `buf`).
        let sid = unsafe { (*buf.as_ptr().cast::<TOKEN_USER>()).User.Sid };
        let mut text: *mut u16 = std::ptr::null_mut();
        // SAFETY: `sid` points into `buf`, alive here; `text` is an out pointer.
        if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: ConvertSidToStringSidW returned a NUL-terminated string,
        // freed with LocalFree once copied.
        let out = unsafe {
            let n = (0..).take_while(|&i| *text.add(i) != 0).count();
            let s = String::from_utf16_lossy(std::slice::from_raw_parts(text, n));
            LocalFree(text.cast());
            s
        };
        Ok(out)
    }

    /// Replaces the folder's access list with the owner-only one.
    pub fn restrict(dir: &Path) -> io::Result<()> {
        let sid = current_user_sid()?;
        let sddl = super::owner_only_sddl(&sid)
            .ok_or_else(|| io::Error::other("this account's SID has an unexpected form"))?;
        let sddl = wide(std::ffi::OsStr::new(&sddl));
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: a NUL-terminated SDDL string and a valid out pointer.
        let made = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut sd,
                std::ptr::null_mut(),
            )
        };
        if made == 0 {
            return Err(io::Error::last_os_error());
        }
        let mut present = 0;
        let mut defaulted = 0;
        let mut dacl: *mut ACL = std::ptr::null_mut();
        let path = wide(dir.as_os_str());
        // SAFETY: `sd` is the descriptor made above, freed once below; the
        // DACL pointer points into it and is used before that.
        let rc = unsafe {
            let got = GetSecurityDescriptorDacl(sd, &mut present, &mut dacl, &mut defaulted);
            let rc = if got == 0 || present == 0 {
                io::Error::last_os_error().raw_os_error().unwrap_or(1) as u32
            } else {
                SetNamedSecurityInfoW(
                    path.as_ptr(),
                    SE_FILE_OBJECT,
                    DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    dacl,
                    std::ptr::null(),
                )
            };
            LocalFree(sd);
            rc
        };
        if rc == ERROR_SUCCESS {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(rc as i32))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_sid_shaped_account_gets_an_access_list() {
        assert_eq!(
            owner_only_sddl("S-1-5-21-3623811015-3361044348-30300820-1013").as_deref(),
            Some("D:P(A;OICI;FA;;;S-1-5-21-3623811015-3361044348-30300820-1013)")
        );
        for bad in [
            "",
            "S-1-",
            "S-1-5-",
            "S-1-5--21",
            "S-1-5-21)(A;;FA;;;WD",
            "WD",
            "s-1-5-18",
        ] {
            assert_eq!(owner_only_sddl(bad), None, "{bad:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_private_folder_is_the_owners_alone_even_if_it_existed() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        create_private_dir(&tmp.path().join("new")).unwrap();
        let mode = std::fs::metadata(tmp.path().join("new"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
