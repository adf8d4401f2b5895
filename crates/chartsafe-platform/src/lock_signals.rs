//! Being told when the screen locks or the computer goes to sleep, so that
//! the vault locks too (HIPAA automatic logoff, 164.312(a)(2)(iii);
//! docs/THREAT_MODEL.md §6.1).
//!
//! - Linux: the screen savers' `ActiveChanged(true)` on the session bus
//!   (GNOME, freedesktop: KDE, Xfce, Cinnamon, MATE) and logind's
//!   `PrepareForSleep(true)` on the system bus.
//! - Windows: `WM_WTSSESSION_CHANGE` with `WTS_SESSION_LOCK` (after
//!   `WTSRegisterSessionNotification`) and `WM_POWERBROADCAST` with
//!   `PBT_APMSUSPEND`, received by a hidden window on a thread of its own
//!   (message-only windows get no broadcasts).
//! - macOS: `NSWorkspaceWillSleepNotification` and
//!   `NSWorkspaceScreensDidSleepNotification` from the workspace's
//!   notification centre, and the distributed `com.apple.screenIsLocked`.
//!
//! Elsewhere nothing is sent; the app's idle timer still applies. No kept
//! crate covered these notifications on all three systems (December 2026).

use std::sync::Arc;

/// Why the vault should lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The screen locked (or the screen saver started).
    ScreenLocked,
    /// The computer is about to sleep.
    Sleep,
}

impl Reason {
    /// The name the app's window is told (`screen_locked`, `sleep`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ScreenLocked => "screen_locked",
            Self::Sleep => "sleep",
        }
    }
}

/// Called on a background thread (Linux, Windows) or the main thread
/// (macOS) each time the screen locks or the computer sleeps.
pub type OnLock = Arc<dyn Fn(Reason) + Send + Sync>;

/// Starts listening and returns at once; a missing bus or service is not
/// an error (the idle timer still applies). On macOS call it on the main
/// thread (Tauri's `setup` runs there): AppKit posts its notifications
/// there.
pub fn start(on_lock: OnLock) {
    #[cfg(target_os = "linux")]
    linux::start(on_lock);
    #[cfg(windows)]
    windows::start(on_lock);
    #[cfg(target_os = "macos")]
    macos::start(on_lock);
    #[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
    let _ = on_lock;
}

// Win32 message numbers (WinUser.h, WtsApi32.h), kept here so that the
// decision below is tested on every system; the Windows build checks them
// against windows-sys.
const WM_WTSSESSION_CHANGE: u32 = 0x02B1;
const WTS_SESSION_LOCK: usize = 0x7;
const WM_POWERBROADCAST: u32 = 0x0218;
const PBT_APMSUSPEND: usize = 0x4;

/// Why a Windows window message locks the vault, if it does.
pub fn windows_reason(msg: u32, wparam: usize) -> Option<Reason> {
    match (msg, wparam) {
        (WM_WTSSESSION_CHANGE, WTS_SESSION_LOCK) => Some(Reason::ScreenLocked),
        (WM_POWERBROADCAST, PBT_APMSUSPEND) => Some(Reason::Sleep),
        _ => None,
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::time::Duration;

    use dbus::blocking::Connection;
    use dbus::message::MatchRule;

    use super::{OnLock, Reason};

    pub fn start(on_lock: OnLock) {
        let session = on_lock.clone();
        let _ = std::thread::Builder::new()
            .name("screen-lock".into())
            .spawn(move || {
                let Ok(conn) = Connection::new_session() else {
                    return;
                };
                for interface in ["org.gnome.ScreenSaver", "org.freedesktop.ScreenSaver"] {
                    let on_lock = session.clone();
                    let rule = MatchRule::new_signal(interface, "ActiveChanged");
                    let _ = conn.add_match(rule, move |(active,): (bool,), _, _| {
                        if active {
                            on_lock(Reason::ScreenLocked);
                        }
                        true
                    });
                }
                while conn.process(Duration::from_secs(3600)).is_ok() {}
            });
        let _ = std::thread::Builder::new()
            .name("sleep".into())
            .spawn(move || {
                let Ok(conn) = Connection::new_system() else {
                    return;
                };
                let rule =
                    MatchRule::new_signal("org.freedesktop.login1.Manager", "PrepareForSleep");
                let _ = conn.add_match(rule, move |(sleeping,): (bool,), _, _| {
                    if sleeping {
                        on_lock(Reason::Sleep);
                    }
                    true
                });
                while conn.process(Duration::from_secs(3600)).is_ok() {}
            });
    }
}

#[cfg(windows)]
#[allow(unsafe_code)]
mod windows {
    use std::sync::OnceLock;

    use windows_sys::Win32::Foundation::{HWND, LPARAM, LRESULT, WPARAM};
    use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
    use windows_sys::Win32::System::RemoteDesktop::{
        WTSRegisterSessionNotification, NOTIFY_FOR_THIS_SESSION,
    };
    use windows_sys::Win32::UI::WindowsAndMessaging::{
        CreateWindowExW, DefWindowProcW, DispatchMessageW, GetMessageW, RegisterClassW, MSG,
        PBT_APMSUSPEND, WM_POWERBROADCAST, WM_WTSSESSION_CHANGE, WNDCLASSW, WTS_SESSION_LOCK,
    };

    use super::OnLock;

    // The numbers `windows_reason` reads are the system's.
    const _: () = {
        assert!(WM_WTSSESSION_CHANGE == super::WM_WTSSESSION_CHANGE);
        assert!(WTS_SESSION_LOCK as usize == super::WTS_SESSION_LOCK);
        assert!(WM_POWERBROADCAST == super::WM_POWERBROADCAST);
        assert!(PBT_APMSUSPEND as usize == super::PBT_APMSUSPEND);
    };

    /// The callback, for the window procedure (which has no user data).
    static ON_LOCK: OnceLock<OnLock> = OnceLock::new();

    pub fn start(on_lock: OnLock) {
        if ON_LOCK.set(on_lock).is_err() {
            return;
        }
        let _ = std::thread::Builder::new()
            .name("lock-signals".into())
            .spawn(run);
    }

    fn run() {
        let class: Vec<u16> = "ChartSafeLockSignals\0".encode_utf16().collect();
        // SAFETY: a null name asks for this executable's own module handle.
        let instance = unsafe { GetModuleHandleW(std::ptr::null()) };
        // SAFETY: WNDCLASSW is plain data, for which all zeroes means "none".
        let mut wc: WNDCLASSW = unsafe { std::mem::zeroed() };
        wc.lpfnWndProc = Some(window_proc);
        wc.hInstance = instance;
        wc.lpszClassName = class.as_ptr();
        // SAFETY: `wc` and the class name it points to outlive the call;
        // the class name lives until this thread (the window's) ends.
        if unsafe { RegisterClassW(&wc) } == 0 {
            return;
        }
        // A hidden top-level window (never shown): broadcasts such as
        // WM_POWERBROADCAST reach top-level windows only.
        // SAFETY: the class was registered above; all pointers are valid
        // or null where the API allows null.
        let hwnd = unsafe {
            CreateWindowExW(
                0,
                class.as_ptr(),
                class.as_ptr(),
                0,
                0,
                0,
                0,
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                instance,
                std::ptr::null(),
            )
        };
        if hwnd.is_null() {
            return;
        }
        // SAFETY: `hwnd` is this thread's live window.
        unsafe { WTSRegisterSessionNotification(hwnd, NOTIFY_FOR_THIS_SESSION) };
        // SAFETY: MSG is plain data, for which all zeroes is valid.
        let mut msg: MSG = unsafe { std::mem::zeroed() };
        // SAFETY: `msg` is a valid MSG to fill; the loop runs on the thread
        // that owns the window, as GetMessageW requires.
        while unsafe { GetMessageW(&mut msg, std::ptr::null_mut(), 0, 0) } > 0 {
            // SAFETY: `msg` was filled by GetMessageW.
            unsafe { DispatchMessageW(&msg) };
        }
    }

    /// SAFETY (for callers): called by Windows with this window's messages.
    unsafe extern "system" fn window_proc(
        hwnd: HWND,
        msg: u32,
        wparam: WPARAM,
        lparam: LPARAM,
    ) -> LRESULT {
        if let Some(reason) = super::windows_reason(msg, wparam) {
            if let Some(on_lock) = ON_LOCK.get() {
                on_lock(reason);
            }
        }
        // SAFETY: the arguments are the ones Windows passed in.
        unsafe { DefWindowProcW(hwnd, msg, wparam, lparam) }
    }
}

#[cfg(target_os = "macos")]
#[allow(unsafe_code)]
mod macos {
    use std::ptr::NonNull;

    use block2::RcBlock;
    use objc2_app_kit::{
        NSWorkspace, NSWorkspaceScreensDidSleepNotification, NSWorkspaceWillSleepNotification,
    };
    use objc2_foundation::{
        NSDistributedNotificationCenter, NSNotification, NSNotificationCenter, NSString,
    };

    use super::{OnLock, Reason};

    pub fn start(on_lock: OnLock) {
        let workspace = NSWorkspace::sharedWorkspace().notificationCenter();
        let distributed = NSDistributedNotificationCenter::defaultCenter();
        let screen_locked = NSString::from_str("com.apple.screenIsLocked");
        // SAFETY: AppKit's constant notification names, defined by the
        // framework for the life of the process.
        let (will_sleep, screens_sleep) = unsafe {
            (
                NSWorkspaceWillSleepNotification,
                NSWorkspaceScreensDidSleepNotification,
            )
        };
        let observe = |center: &NSNotificationCenter, name: &NSString, reason: Reason| {
            let on_lock = on_lock.clone();
            let block = RcBlock::new(move |_: NonNull<NSNotification>| on_lock(reason));
            // SAFETY: no object filter and no queue (the block runs on the
            // posting thread); the block is Send + Sync, as the API needs.
            let observer = unsafe {
                center.addObserverForName_object_queue_usingBlock(Some(name), None, None, &block)
            };
            // Observers stay registered for the life of the app.
            std::mem::forget(observer);
        };
        observe(&workspace, will_sleep, Reason::Sleep);
        observe(&workspace, screens_sleep, Reason::ScreenLocked);
        observe(&distributed, &screen_locked, Reason::ScreenLocked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_locks_on_session_lock_and_suspend_only() {
        assert_eq!(windows_reason(0x02B1, 0x7), Some(Reason::ScreenLocked));
        assert_eq!(windows_reason(0x0218, 0x4), Some(Reason::Sleep));
        // WTS_SESSION_UNLOCK (8), WTS_SESSION_LOGON (5) and
        // PBT_APMRESUMEAUTOMATIC (0x12) do not.
        assert_eq!(windows_reason(0x02B1, 0x8), None);
        assert_eq!(windows_reason(0x02B1, 0x5), None);
        assert_eq!(windows_reason(0x0218, 0x12), None);
        assert_eq!(Reason::Sleep.as_str(), "sleep");
        assert_eq!(Reason::ScreenLocked.as_str(), "screen_locked");
    }
}
