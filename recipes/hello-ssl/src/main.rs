//! Print `OpenSSL_version(OPENSSL_VERSION)`, e.g. `OpenSSL 3.0.11 19 Sep 2023`.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

/// `OPENSSL_VERSION` from <openssl/crypto.h>: the "OpenSSL x.y.z date" text.
const OPENSSL_VERSION: c_int = 0;

extern "C" {
    // Exported by libcrypto since OpenSSL 1.1.0.
    fn OpenSSL_version(t: c_int) -> *const c_char;
}

fn main() {
    // SAFETY: OpenSSL_version returns a pointer to a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr(OpenSSL_version(OPENSSL_VERSION)) };
    println!("{}", version.to_string_lossy());
}
