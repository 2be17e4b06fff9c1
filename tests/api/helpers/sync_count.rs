//! A SQLite VFS shim for the durability tests: it wraps the platform's default VFS, made
//! the default for this test process, and counts `xSync` calls on files inside watched
//! folders. Every server the tests start in this process opens its database through it;
//! files outside a watched folder pass straight through.
//!
//! A watched sync is also made slow (it sleeps before the real sync) and is counted only
//! once the real sync has returned, so a server that answered before syncing is caught
//! reliably: its client would see the answer while the count has not yet moved.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use rusqlite::ffi;

/// Syncs of files in one folder, once they are done.
#[derive(Clone)]
pub struct Syncs(Arc<AtomicU64>);

impl Syncs {
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

struct Watch {
    dir: PathBuf,
    syncs: Arc<AtomicU64>,
    delay: Duration,
}

static WATCHED: Mutex<Vec<Watch>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();
/// The platform VFS the shim forwards to.
static mut REAL: *mut ffi::sqlite3_vfs = std::ptr::null_mut();

/// Counts syncs of files opened from now on inside `dir`; each one first sleeps `delay`.
pub fn watch(dir: &Path, delay: Duration) -> Syncs {
    install();
    let syncs = Arc::new(AtomicU64::new(0));
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    WATCHED.lock().unwrap().push(Watch {
        dir,
        syncs: syncs.clone(),
        delay,
    });
    Syncs(syncs)
}

/// Our file: the shim's header, followed in the same allocation by the real file.
#[repr(C)]
struct ShimFile {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    /// Leaked from the watch list's `Arc`, or null when not watched.
    syncs: *const AtomicU64,
    delay_ms: u64,
}

fn install() {
    INSTALL.call_once(|| unsafe {
        ffi::sqlite3_initialize();
        let real = ffi::sqlite3_vfs_find(std::ptr::null());
        assert!(!real.is_null(), "no default SQLite VFS");
        REAL = real;
        let mut shim: ffi::sqlite3_vfs = *real;
        shim.szOsFile = (std::mem::size_of::<ShimFile>() as c_int) + (*real).szOsFile;
        shim.zName = c"tasklane-sync-count".as_ptr();
        shim.pNext = std::ptr::null_mut();
        shim.xOpen = Some(open);
        let shim = Box::leak(Box::new(shim));
        assert_eq!(ffi::sqlite3_vfs_register(shim, 1), ffi::SQLITE_OK);
    });
}

unsafe fn real_of(f: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    unsafe { (*(f as *mut ShimFile)).real }
}

unsafe fn methods(f: *mut ffi::sqlite3_file) -> &'static ffi::sqlite3_io_methods {
    unsafe { &*(*real_of(f)).pMethods }
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    unsafe {
        let shim = file as *mut ShimFile;
        let real = (file as *mut u8).add(std::mem::size_of::<ShimFile>()) as *mut ffi::sqlite3_file;
        (*real).pMethods = std::ptr::null();
        let rc = ((*REAL).xOpen.expect("xOpen"))(REAL, name, real, flags, out_flags);
        (*shim).real = real;
        (*shim).syncs = std::ptr::null();
        (*shim).delay_ms = 0;
        if !name.is_null() {
            let path = PathBuf::from(
                CStr::from_ptr(name as *const c_char)
                    .to_string_lossy()
                    .as_ref(),
            );
            let watched = WATCHED.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(w) = watched.iter().find(|w| path.starts_with(&w.dir)) {
                // The watch list is never emptied, so the counter outlives the file.
                (*shim).syncs = Arc::as_ptr(&w.syncs);
                (*shim).delay_ms = w.delay.as_millis() as u64;
            }
        }
        // SQLite calls xClose whenever pMethods is set, even after a failed open.
        (*shim).base.pMethods = if (*real).pMethods.is_null() {
            std::ptr::null()
        } else {
            &IO
        };
        rc
    }
}

static IO: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

unsafe extern "C" fn sync(f: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    unsafe {
        let shim = f as *mut ShimFile;
        if !(*shim).syncs.is_null() && (*shim).delay_ms > 0 {
            std::thread::sleep(Duration::from_millis((*shim).delay_ms));
        }
        let rc = (methods(f).xSync.expect("xSync"))(real_of(f), flags);
        if rc == ffi::SQLITE_OK && !(*shim).syncs.is_null() {
            (*(*shim).syncs).fetch_add(1, Ordering::SeqCst);
        }
        rc
    }
}

unsafe extern "C" fn close(f: *mut ffi::sqlite3_file) -> c_int {
    unsafe { (methods(f).xClose.expect("xClose"))(real_of(f)) }
}

unsafe extern "C" fn read(f: *mut ffi::sqlite3_file, buf: *mut c_void, n: c_int, at: i64) -> c_int {
    unsafe { (methods(f).xRead.expect("xRead"))(real_of(f), buf, n, at) }
}

unsafe extern "C" fn write(
    f: *mut ffi::sqlite3_file,
    buf: *const c_void,
    n: c_int,
    at: i64,
) -> c_int {
    unsafe { (methods(f).xWrite.expect("xWrite"))(real_of(f), buf, n, at) }
}

unsafe extern "C" fn truncate(f: *mut ffi::sqlite3_file, size: i64) -> c_int {
    unsafe { (methods(f).xTruncate.expect("xTruncate"))(real_of(f), size) }
}

unsafe extern "C" fn file_size(f: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    unsafe { (methods(f).xFileSize.expect("xFileSize"))(real_of(f), size) }
}

unsafe extern "C" fn lock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    unsafe { (methods(f).xLock.expect("xLock"))(real_of(f), level) }
}

unsafe extern "C" fn unlock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    unsafe { (methods(f).xUnlock.expect("xUnlock"))(real_of(f), level) }
}

unsafe extern "C" fn check_reserved_lock(f: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    unsafe { (methods(f).xCheckReservedLock.expect("xCheckReservedLock"))(real_of(f), out) }
}

unsafe extern "C" fn file_control(f: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    unsafe { (methods(f).xFileControl.expect("xFileControl"))(real_of(f), op, arg) }
}

unsafe extern "C" fn sector_size(f: *mut ffi::sqlite3_file) -> c_int {
    unsafe { (methods(f).xSectorSize.expect("xSectorSize"))(real_of(f)) }
}

unsafe extern "C" fn device_characteristics(f: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        (methods(f)
            .xDeviceCharacteristics
            .expect("xDeviceCharacteristics"))(real_of(f))
    }
}

unsafe extern "C" fn shm_map(
    f: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    unsafe {
        match methods(f).xShmMap {
            Some(m) => m(real_of(f), page, size, extend, out),
            None => ffi::SQLITE_IOERR,
        }
    }
}

unsafe extern "C" fn shm_lock(
    f: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    unsafe {
        match methods(f).xShmLock {
            Some(m) => m(real_of(f), offset, n, flags),
            None => ffi::SQLITE_IOERR,
        }
    }
}

unsafe extern "C" fn shm_barrier(f: *mut ffi::sqlite3_file) {
    unsafe {
        if let Some(m) = methods(f).xShmBarrier {
            m(real_of(f))
        }
    }
}

unsafe extern "C" fn shm_unmap(f: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    unsafe {
        match methods(f).xShmUnmap {
            Some(m) => m(real_of(f), delete),
            None => ffi::SQLITE_OK,
        }
    }
}

unsafe extern "C" fn fetch(
    f: *mut ffi::sqlite3_file,
    at: i64,
    n: c_int,
    out: *mut *mut c_void,
) -> c_int {
    unsafe {
        match methods(f).xFetch {
            Some(m) => m(real_of(f), at, n, out),
            None => {
                *out = std::ptr::null_mut();
                ffi::SQLITE_OK
            }
        }
    }
}

unsafe extern "C" fn unfetch(f: *mut ffi::sqlite3_file, at: i64, p: *mut c_void) -> c_int {
    unsafe {
        match methods(f).xUnfetch {
            Some(m) => m(real_of(f), at, p),
            None => ffi::SQLITE_OK,
        }
    }
}
