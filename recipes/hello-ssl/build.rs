//! Find libssl/libcrypto with the `pkg-config` program (no crates.io `pkg-config` crate).
//!
//! Cross builds set `PKG_CONFIG` (or `PKG_CONFIG_<target>`, as the pkg-config crate reads it),
//! `PKG_CONFIG_LIBDIR` and `PKG_CONFIG_SYSROOT_DIR` so that the target's openssl.pc is found.

use std::env;
use std::process::Command;

fn pkg_config_program() -> String {
    let target = env::var("TARGET").unwrap_or_default();
    let keys = [
        format!("PKG_CONFIG_{}", target.replace('-', "_")),
        format!("PKG_CONFIG_{target}"),
        "PKG_CONFIG".to_string(),
    ];
    for key in &keys {
        println!("cargo:rerun-if-env-changed={key}");
        if let Ok(value) = env::var(key) {
            if !value.is_empty() {
                return value;
            }
        }
    }
    "pkg-config".to_string()
}

fn main() {
    for key in ["PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "PKG_CONFIG_SYSROOT_DIR", "PKG_CONFIG_ALL_STATIC"] {
        println!("cargo:rerun-if-env-changed={key}");
    }
    // A static build (+crt-static) links libssl.a and libcrypto.a: with --static, pkg-config adds
    // their Libs.private, as the pkg-config crate does when PKG_CONFIG_ALL_STATIC is set.
    let all_static = env::var("PKG_CONFIG_ALL_STATIC").map_or(false, |v| !v.is_empty() && v != "0");
    let program = pkg_config_program();
    let output = Command::new(&program)
        .args(if all_static { &["--libs", "--static", "openssl"][..] } else { &["--libs", "openssl"][..] })
        .output()
        .unwrap_or_else(|err| panic!("cannot run {program}: {err} (install pkg-config)"));
    if !output.status.success() {
        panic!(
            "{program} --libs openssl failed: {} (install libssl-dev for the target)",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let flags = String::from_utf8(output.stdout).expect("pkg-config output is not UTF-8");
    for flag in flags.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else if let Some(lib) = flag.strip_prefix("-l") {
            // dylib next to +crt-static would make rustc pass -Bdynamic: libssl.so, and a loader.
            let kind = if all_static { "static" } else { "dylib" };
            println!("cargo:rustc-link-lib={kind}={lib}");
        }
    }
}
