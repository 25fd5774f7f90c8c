use std::ffi::CStr;

#[derive(Debug, thiserror::Error)]
#[error("{what}: {text} (errno {errno})")]
pub struct DpdkError {
    pub what: String,
    pub errno: i32,
    pub text: String,
}

/// DPDK's description of an error number (rte_errno or a negative return).
pub fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local
    // NUL-terminated string for any input.
    unsafe { CStr::from_ptr(dpdk_sys::rte_strerror(errno)) }.to_string_lossy().into_owned()
}

impl DpdkError {
    /// From a DPDK call that returned a negative errno.
    pub fn from_ret(what: impl Into<String>, ret: i32) -> Self {
        let errno = ret.abs();
        Self { what: what.into(), errno, text: strerror(errno) }
    }

    /// From a DPDK call that set rte_errno.
    pub fn from_rte_errno(what: impl Into<String>) -> Self {
        // SAFETY: reads a thread-local int.
        let errno = unsafe { dpdk_sys::sy_rte_errno() };
        Self { what: what.into(), errno, text: strerror(errno) }
    }
}

/// Maps a DPDK return code (negative = error) to a Result.
pub fn check(what: &str, ret: i32) -> Result<i32, DpdkError> {
    if ret < 0 {
        Err(DpdkError::from_ret(what, ret))
    } else {
        Ok(ret)
    }
}
