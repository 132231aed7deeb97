//! Tally `key=value` pairs matched by a regular expression and print the totals as JSON.
//!
//! `logtally 'a=1 b=2' 'a=3'` prints `{"lines":2,"matches":3,"totals":{"a":4,"b":2}}`.
//! Without arguments it reads lines from standard input.

use std::collections::BTreeMap;
use std::io::{self, BufRead};
use std::process::ExitCode;

use clap::Parser;
use regex::Regex;
use serde::Serialize;

/// Command line: a pattern with two capture groups (key, number) and the lines to read.
#[derive(Parser, Debug)]
#[command(name = "logtally", version, about)]
struct Args {
    /// Regular expression with two groups: the key and an integer value.
    #[arg(short, long, default_value = r"(\w+)=(-?\d+)")]
    pattern: String,

    /// Print the JSON indented.
    #[arg(long)]
    pretty: bool,

    /// Lines to read; standard input when none are given.
    lines: Vec<String>,
}

/// What is printed: how many lines and matches were seen, and the sum per key (sorted).
#[derive(Serialize, Debug, Default, PartialEq)]
struct Tally {
    lines: usize,
    matches: usize,
    totals: BTreeMap<String, i64>,
}

fn tally<I: IntoIterator<Item = String>>(re: &Regex, lines: I) -> Tally {
    let mut out = Tally::default();
    for line in lines {
        out.lines += 1;
        for caps in re.captures_iter(&line) {
            let (Some(key), Some(value)) = (caps.get(1), caps.get(2)) else { continue };
            let Ok(number) = value.as_str().parse::<i64>() else { continue };
            out.matches += 1;
            *out.totals.entry(key.as_str().to_owned()).or_default() += number;
        }
    }
    out
}

fn main() -> ExitCode {
    let args = Args::parse();
    let re = match Regex::new(&args.pattern) {
        Ok(re) if re.captures_len() >= 3 => re,
        Ok(_) => {
            eprintln!("logtally: the pattern needs two capture groups (key and value)");
            return ExitCode::from(2);
        }
        Err(err) => {
            eprintln!("logtally: bad pattern: {err}");
            return ExitCode::from(2);
        }
    };
    let result = if args.lines.is_empty() {
        tally(&re, io::stdin().lock().lines().map_while(Result::ok))
    } else {
        tally(&re, args.lines)
    };
    let text = if args.pretty {
        serde_json::to_string_pretty(&result)
    } else {
        serde_json::to_string(&result)
    };
    println!("{}", text.expect("a Tally always serialises"));
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_per_key() {
        let re = Regex::new(r"(\w+)=(-?\d+)").unwrap();
        let got = tally(&re, ["a=1 b=2".to_owned(), "a=3".to_owned()]);
        assert_eq!(got.lines, 2);
        assert_eq!(got.totals["a"], 4);
    }
}
