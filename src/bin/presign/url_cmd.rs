//! `presign url`: print a presigned S3 URL.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::opts::{wants_help, Opts};
use presign_worker::sigv4::{
    AddressingStyle, AmzDate, Bucket, Credentials, Endpoint, Method, ObjectRequest, Signer,
};

const HELP: &str = "\
usage: presign url --endpoint URL --region R --bucket B --key K [options]

  --method M         GET (default), HEAD, PUT, POST or DELETE
  --endpoint URL     http(s)://host[:port] of the store (e.g. https://s3.eu-west-1.amazonaws.com,
                     https://<account>.r2.cloudflarestorage.com, http://127.0.0.1:9000)
  --region R         signing region (`auto` for R2)
  --bucket B         bucket name
  --key K            object key, as stored (encoded by the signer)
  --expires SECS     URL lifetime, 1..=604800 (default 300)
  --path-style       https://host/bucket/key instead of https://bucket.host/key
  --header 'N: V'    a header the client will send, covered by the signature (repeatable)
  --query N=V        an extra query parameter, e.g. partNumber=1 (repeatable)
  --time T           signing time, YYYYMMDDTHHMMSSZ (default: now)
  --json             print {\"method\", \"url\", \"headers\"} instead of the bare URL

Credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optional AWS_SESSION_TOKEN.";

fn fail(msg: &str) -> i32 {
    eprintln!("error: {msg}");
    2
}

/// The options of `presign url` as given: `--name value` or `--name=value`.
struct UrlArgs {
    method: Method,
    endpoint: String,
    region: String,
    bucket: String,
    key: String,
    expires: u32,
    style: AddressingStyle,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    time: Option<u64>,
    json: bool,
}

fn parse_args(args: &[String]) -> Result<UrlArgs, String> {
    let opts = Opts::parse(
        args,
        &[
            "method", "endpoint", "region", "bucket", "key", "expires", "header", "query", "time",
        ],
        &["path-style", "json"],
    )?;
    let method = Method::parse(&opts.last("method").unwrap_or("GET").to_ascii_uppercase())
        .map_err(|e| e.to_string())?;
    let expires = match opts.last("expires") {
        None => 300,
        Some(v) => v
            .parse()
            .map_err(|_| "--expires takes whole seconds".to_string())?,
    };
    let headers = opts
        .all("header")
        .map(|h| {
            let (n, v) = h.split_once(':').ok_or("--header takes 'name: value'")?;
            Ok((n.trim().to_string(), v.trim().to_string()))
        })
        .collect::<Result<_, String>>()?;
    let query = opts
        .all("query")
        .map(|q| {
            let (n, v) = q.split_once('=').unwrap_or((q, ""));
            (n.to_string(), v.to_string())
        })
        .collect();
    let time = match opts.last("time") {
        None => None,
        Some(t) => Some(
            AmzDate::parse(t)
                .ok_or("--time takes YYYYMMDDTHHMMSSZ")?
                .unix(),
        ),
    };
    let required = |name: &str| opts.last(name).map(str::to_owned);
    let (Some(endpoint), Some(region), Some(bucket), Some(key)) = (
        required("endpoint"),
        required("region"),
        required("bucket"),
        required("key"),
    ) else {
        return Err("--endpoint, --region, --bucket and --key are required (see --help)".into());
    };
    Ok(UrlArgs {
        method,
        endpoint,
        region,
        bucket,
        key,
        expires,
        style: if opts.has("path-style") {
            AddressingStyle::Path
        } else {
            AddressingStyle::VirtualHosted
        },
        headers,
        query,
        time,
        json: opts.has("json"),
    })
}

/// Runs `presign url` with the arguments after the verb; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    if wants_help(args) {
        println!("{HELP}");
        return 0;
    }
    let UrlArgs {
        method,
        endpoint,
        region,
        bucket,
        key,
        expires,
        style,
        headers,
        query,
        time,
        json,
    } = match parse_args(args) {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    let (Ok(access), Ok(secret)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) else {
        return fail("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    };
    let token = std::env::var("AWS_SESSION_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let now = time.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });

    let signed = Endpoint::parse(&endpoint)
        .and_then(|e| Bucket::new(&e, &bucket, style))
        .and_then(|b| {
            let signer = Signer::s3(
                Credentials::new(&access, &secret, token.as_deref()),
                &region,
            )?;
            let q: Vec<(&str, &str)> = query
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let h: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            signer.presign(
                &b,
                &ObjectRequest {
                    method,
                    key: &key,
                    query: &q,
                    headers: &h,
                },
                expires,
                now,
            )
        });
    match signed {
        Ok(p) if json => {
            let headers: serde_json::Map<String, serde_json::Value> = p
                .headers
                .into_iter()
                .map(|(n, v)| (n, serde_json::Value::String(v)))
                .collect();
            let out = serde_json::json!({ "method": p.method.as_str(), "url": p.url, "headers": headers });
            println!("{out}");
            0
        }
        Ok(p) => {
            println!("{}", p.url);
            0
        }
        Err(e) => {
            eprintln!("error: {}: {e}", e.code());
            1
        }
    }
}
