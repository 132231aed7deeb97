//! Print the greeting from /etc/cargo-deb-style/greeting.conf (a conffile), or a default.

use std::fs;

const CONFIG: &str = "/etc/cargo-deb-style/greeting.conf";

fn main() {
    let greeting = fs::read_to_string(CONFIG)
        .ok()
        .and_then(|text| {
            text.lines()
                .map(str::trim)
                .find(|line| !line.is_empty() && !line.starts_with('#'))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "Hello from cargo-deb-style".to_owned());
    println!("{greeting}");
}
