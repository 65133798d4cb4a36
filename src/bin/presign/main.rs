//! `presign`: the command-line companion of presign-worker.
//!
//! - `presign url ...`: sign a presigned S3 URL (see `presign url --help`).
//! - `presign token ...`: mint an HS256 development token from `JWT_SECRET`.
//! - `presign verify ...`: verify a token read on stdin and say why it is refused.
//! - `presign doctor ...`: test what the configured store really enforces.
#![forbid(unsafe_code)]

// The doctor talks HTTPS to the store: a native tool only (its crates are not built for wasm32).
#[cfg(not(target_arch = "wasm32"))]
mod doctor_cmd;
mod opts;
mod token_cmd;
mod url_cmd;

const USAGE: &str =
    "usage: presign <url|token|verify|doctor> [options]  (presign <verb> --help for details)";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("url") => url_cmd::run(&args[1..]),
        #[cfg(not(target_arch = "wasm32"))]
        Some("doctor") => doctor_cmd::run(&args[1..]),
        Some("token") => token_cmd::run_token(&args[1..]),
        Some("verify") => token_cmd::run_verify(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            0
        }
        _ => {
            eprintln!("{USAGE}");
            2
        }
    };
    std::process::exit(code);
}
