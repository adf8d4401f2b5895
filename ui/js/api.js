// The one module that talks to Tauri (window.__TAURI__). Everything else
// calls these functions. Errors arrive as {kind, message, details}.

const T = window.__TAURI__;

function call(cmd, args = {}) {
  return T.core.invoke(cmd, args).catch((e) => {
    throw typeof e === 'object' && e && e.kind
      ? e
      : { kind: 'internal', message: 'Something went wrong inside ChartSafe. Please try again.', details: String(e) };
  });
}

export const status = () => call('app_status');
export const suggestLocations = () => call('suggest_locations');
export const chooseFolder = (title) => call('choose_folder', { title });
export const chooseFiles = () => call('choose_files');
export const inspectFolder = (path) => call('inspect_folder', { path });
export const createVault = (path, passphrase) => call('create_vault', { path, passphrase });
export const confirmPhrase = (answers) => call('confirm_phrase', { answers });
export const unlock = (path, passphrase) => call('unlock', { path, passphrase });
export const recover = (path, words, passphrase) => call('recover', { path, words, passphrase });
export const forgetVault = () => call('forget_vault');
export const lock = () => call('lock');
export const activity = () => call('activity');
export const setIdleMinutes = (minutes) => call('set_idle_minutes', { minutes });
export const updateStatus = () => call('update_status');
export const setUpdateCheck = (enabled) => call('set_update_check', { enabled });
/** A newer version, {version, notes}, or null. */
export const checkUpdate = () => call('check_update');
/** Downloads, checks the signature, installs and restarts. */
export const installUpdate = () => call('install_update');
export const startAtLogin = () => call('start_at_login');
export const setStartAtLogin = (enabled) => call('set_start_at_login', { enabled });
/** The scanner folder of the unlocked vault: {dir, to, running, taken, left, problem, notices}. */
export const scanStatus = () => call('scan_status');
/** Watches `dir` ('' to stop), its files going into the vault folder `to`. */
export const setScanFolder = (dir, to) => call('set_scan_folder', { dir, to });
export const list = () => call('list');
export const cancelImport = () => call('cancel_import');
export const openFile = (path) => call('open_file', { path });
export const closeOpenFile = (path) => call('close_open_file', { path });
export const exportTo = (paths, dest) => call('export', { paths, dest });
/** Writes one age file of `path` at `dest` for `note`: to the age key `recipient`, else a new passphrase (returned once). */
export const shareFile = (path, recipient, note, dest) => call('share_file', { path, recipient, note, dest });
export const rename = (from, to) => call('rename', { from, to });
export const mkdir = (path) => call('mkdir', { path });
export const trash = (paths) => call('trash', { paths });
export const trashList = () => call('trash_list');
export const restore = (id) => call('restore', { id });
export const versions = (path) => call('versions', { path });
export const revert = (path, version, changed) => call('revert', { path, version, changed });

/** The activity log, oldest first: {rows, problems, chains}. */
export const auditLog = () => call('audit_log');
/** A native "Save as" dialog; resolves with the chosen path or null. */
export const chooseSaveFile = (title, name, kind = null) => call('choose_save_file', { title, name, kind });
/** Writes rows (indices into the last auditLog()) as CSV; resolves with the count. */
export const exportAudit = (rows, dest) => call('export_audit', { rows, dest });
/** Removes what the last checkVault() found safe to remove; resolves with the count. */
export const repairVault = () => call('repair_vault');

/** The team: {members, admin, requests, problems}. */
export const teamView = () => call('team_view');
/** A new invitation (admins): {text, expires}. */
export const makeInvite = () => call('make_invite');
/** Approves join request `id` if `code` is the one the person read out. */
export const approveRequest = (id, code, roleName) => call('approve_request', { id, code, roleName });
/** Approves join request `id` as another computer of member `member` (id). */
export const approveComputer = (id, code, member) => call('approve_computer', { id, code, member });
/** Replaces the keys now (admins) and re-encrypts in the background. */
export const rotateKeys = () => call('rotate_keys');
/** Removes a member (by id) from the team. */
export const removeMember = (id) => call('remove_member', { id });
/** Re-encryption to the current key: {due, running, percent, files_done, files_total, message}. */
export const rekeyProgress = () => call('rekey_progress');
/** Makes a collection (admins): a new top-level folder with its own key. */
export const makeCollection = (name) => call('make_collection', { name });
/** Gives a member (id) access to a collection (id); `write` lets them change it. */
export const grantCollection = (collection, member, write) => call('grant_collection', { collection, member, write });
/** Takes a collection (id) away from a member (id). */
export const revokeCollection = (collection, member) => call('revoke_collection', { collection, member });

/** The file's bytes (an ArrayBuffer), decrypted in memory for a preview. */
export const preview = (path) => call('preview', { path });

/** Imports paths into `dest`; `onProgress` gets progress objects. */
export function importPaths(paths, dest, keepBoth, onProgress) {
  const channel = new T.core.Channel();
  channel.onmessage = onProgress;
  return call('import_paths', { paths, dest, keepBoth, onProgress: channel });
}

/** Checks the whole vault; `onProgress` gets {bytes, total}. */
export function checkVault(onProgress) {
  const channel = new T.core.Channel();
  channel.onmessage = onProgress;
  return call('check_vault', { onProgress: channel });
}

/** Subscribes to a backend event ("locked", "vault-changed", "file-saved", …). */
export function on(event, handler) {
  return T.event.listen(event, (e) => handler(e.payload));
}

/**
 * Files dragged over the window: `handler({type, paths})` with type
 * "enter", "over", "drop" or "leave".
 */
export function onDragDrop(handler) {
  return T.webview.getCurrentWebview().onDragDropEvent((e) => handler(e.payload));
}
