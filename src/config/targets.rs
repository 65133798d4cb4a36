//! Storage targets (`TARGETS`, `TARGET_<NAME>_*`) and their credentials (`S3_*`): each target
//! is parsed into the [`Bucket`] and [`Endpoint`] that sign its URLs.

use std::fmt;

use super::{parse_endpoint, show, valid_name, ConfigError, Result, Vars};
use super::{DEFAULT_CUSTOM_REGION, DEFAULT_POST_POLICY, DEFAULT_TARGETS};
use crate::sigv4::{self, AddressingStyle, Bucket, Credentials, Endpoint, SignError, Signer};

/// One named storage target (bucket plus endpoint plus credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetConfig {
    /// Name as listed in `TARGETS` (lower case).
    pub name: String,
    /// Kind of store.
    pub kind: TargetKind,
    /// The bucket at its endpoint, in its addressing style: what the signer needs.
    pub bucket: Bucket,
    /// Service endpoint, without the bucket.
    pub endpoint: Endpoint,
    /// SigV4 signing region (`auto` for R2).
    pub region: String,
    /// Whether `/v1/sign` answers PutObject with a POST policy form (`TARGET_<NAME>_POST_POLICY`).
    pub post_policy: bool,
    /// Credentials that sign this target's URLs, unless one of the two below is set.
    pub credentials: S3Credentials,
    /// `TARGET_<NAME>_WRITE_*`: the credentials of uploads (PUT, multipart, POST policies,
    /// deletes), e.g. write-only ones, so that a store that executes an unsigned
    /// `x-amz-copy-source` cannot be made to read with them.
    pub write_credentials: Option<S3Credentials>,
    /// `TARGET_<NAME>_READ_*`: the credentials of downloads (GET).
    pub read_credentials: Option<S3Credentials>,
}

/// What a signed request does to the store, and so which credentials sign it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Uploads, multipart requests, POST policies and deletes.
    Write,
    /// Downloads.
    Read,
}

impl TargetConfig {
    /// `true`: the bucket is the first path segment (`endpoint/bucket/key`); `false`: the
    /// bucket is prepended to the endpoint host (`bucket.endpoint/key`).
    pub fn path_style(&self) -> bool {
        self.bucket.style() == AddressingStyle::Path
    }

    /// The credentials that sign requests of this kind of `access`.
    pub(crate) fn credentials_for(&self, access: Access) -> &S3Credentials {
        match access {
            Access::Write => self.write_credentials.as_ref(),
            Access::Read => self.read_credentials.as_ref(),
        }
        .unwrap_or(&self.credentials)
    }

    /// A warning for the operator when one credential both uploads and downloads on a
    /// `custom` store: such stores (s3s-fs, older MinIO) may execute an unsigned
    /// `x-amz-copy-source` added to an upload URL, copying any object that credential can read
    /// (`presign doctor` tells). `None` when there is nothing to warn about.
    pub(crate) fn shared_credentials_warning(&self) -> Option<String> {
        let same = self.credentials_for(Access::Write).access_key_id
            == self.credentials_for(Access::Read).access_key_id;
        (self.kind == TargetKind::Custom && same).then(|| {
            format!(
                "target {} signs uploads and downloads with one credential; if the store executes \
                 an unsigned x-amz-copy-source (run `presign doctor`), give uploads write-only \
                 credentials in {} and {}",
                self.name,
                target_var(&self.name, "WRITE_ACCESS_KEY_ID"),
                target_var(&self.name, "WRITE_SECRET_ACCESS_KEY"),
            )
        })
    }

    /// The signer of this target's requests of kind `access`, in its region. A refusal names
    /// the variable that holds the region.
    pub fn signer(&self, access: Access) -> Result<Signer> {
        let c = self.credentials_for(access);
        let creds = Credentials::new(
            &c.access_key_id,
            &c.secret_access_key,
            c.session_token.as_deref(),
        );
        Signer::s3(creds, &self.region).map_err(|e| ConfigError {
            variable: format!("TARGET_{}_REGION", self.name.to_ascii_uppercase()),
            problem: e.to_string(),
        })
    }
}

/// Kind of a storage target (`TARGET_<NAME>_KIND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Cloudflare R2 (`r2`).
    R2,
    /// Amazon S3 (`s3`).
    S3,
    /// Any S3-compatible endpoint (`custom`), e.g. MinIO or s3s-fs.
    Custom,
}

impl TargetKind {
    /// The configuration spelling: `r2`, `s3` or `custom`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::R2 => "r2",
            TargetKind::S3 => "s3",
            TargetKind::Custom => "custom",
        }
    }
}

/// S3 credentials. `Debug` redacts the secret parts.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    /// Access key id (not secret by itself, but not logged either).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &"<redacted>")
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// `TARGETS` and every target's settings.
pub(super) fn parse_targets(vars: &Vars<'_>) -> Result<Vec<TargetConfig>> {
    let list = vars
        .get("TARGETS")
        .unwrap_or_else(|| DEFAULT_TARGETS.to_owned());
    let names = super::parse_list("TARGETS", &list)?;
    let global = global_credentials(vars)?;
    names
        .iter()
        .map(|name| parse_target(vars, name, global.as_ref()))
        .collect()
}

/// The variables of one target, `TARGET_<NAME>_<SUFFIX>`.
struct TargetVars<'a> {
    vars: &'a Vars<'a>,
    /// The target's name, as listed.
    name: &'a str,
    kind: TargetKind,
}

impl TargetVars<'_> {
    /// The name of the variable `suffix` of this target.
    fn var(&self, suffix: &str) -> String {
        target_var(self.name, suffix)
    }

    /// The variable `suffix` (its name and value), refused when unset.
    fn require(&self, suffix: &str) -> Result<(String, String)> {
        let v = self.var(suffix);
        match self.vars.get(&v) {
            Some(value) => Ok((v, value)),
            None => Err(ConfigError::new(
                v,
                format!("missing (required for kind {})", self.kind.as_str()),
            )),
        }
    }

    /// Refuses the variable `suffix` when set: this kind does not use it.
    fn refuse(&self, suffix: &str) -> Result<()> {
        let v = self.var(suffix);
        if self.vars.get(&v).is_some() {
            return Err(ConfigError::new(
                v,
                format!("is not used by kind {}; remove it", self.kind.as_str()),
            ));
        }
        Ok(())
    }
}

/// `TARGET_<NAME>_<SUFFIX>` for the target `name`.
fn target_var(name: &str, suffix: &str) -> String {
    format!("TARGET_{}_{suffix}", name.to_ascii_uppercase())
}

/// Where a kind of target sends its requests.
struct Place {
    endpoint: Endpoint,
    region: String,
    /// The default of `TARGET_<NAME>_PATH_STYLE`.
    path_style: bool,
}

fn parse_target(
    vars: &Vars<'_>,
    name: &str,
    global: Option<&S3Credentials>,
) -> Result<TargetConfig> {
    if !valid_name(name) {
        return Err(ConfigError::new(
            "TARGETS",
            format!(
                "target name {} must be a lower-case letter then letters, digits or '_', at most 32 characters",
                show(name)
            ),
        ));
    }
    let kind = parse_kind(vars, name)?;
    let t = TargetVars { vars, name, kind };
    let (bucket_var, bucket) = t.require("BUCKET")?;
    check_bucket_name(&bucket_var, &bucket, kind)?;
    let place = match kind {
        TargetKind::R2 => r2(&t)?,
        TargetKind::S3 => s3(&t)?,
        TargetKind::Custom => custom(&t)?,
    };
    let bucket = bucket_at(&t, &place, &bucket)?;

    let post_policy_var = t.var("POST_POLICY");
    let post_policy = vars.boolean(&post_policy_var, DEFAULT_POST_POLICY)?;
    if post_policy && kind == TargetKind::R2 {
        return Err(ConfigError::new(
            post_policy_var,
            "R2 does not support POST policy uploads",
        ));
    }

    let credentials = target_credentials(&t, global)?;
    let write_credentials = credential_vars(vars, &t.var("WRITE_"), "both are needed")?;
    let read_credentials = credential_vars(vars, &t.var("READ_"), "both are needed")?;
    Ok(TargetConfig {
        name: name.to_owned(),
        kind,
        bucket,
        endpoint: place.endpoint,
        region: place.region,
        post_policy,
        credentials,
        write_credentials,
        read_credentials,
    })
}

fn parse_kind(vars: &Vars<'_>, name: &str) -> Result<TargetKind> {
    let kind_var = target_var(name, "KIND");
    match vars.get(&kind_var).as_deref() {
        None => Err(ConfigError::new(
            kind_var,
            format!(
                "missing (target {} is listed in TARGETS; set r2, s3 or custom)",
                show(name)
            ),
        )),
        Some("r2") => Ok(TargetKind::R2),
        Some("s3") => Ok(TargetKind::S3),
        Some("custom") => Ok(TargetKind::Custom),
        Some(other) => Err(ConfigError::new(
            kind_var,
            format!("unknown kind {}; expected r2, s3 or custom", show(other)),
        )),
    }
}

/// S3's bucket naming rules ([`sigv4::is_dns_bucket_name`]), and no `.` for R2.
fn check_bucket_name(var: &str, bucket: &str, kind: TargetKind) -> Result<()> {
    let r2 = kind == TargetKind::R2;
    if sigv4::is_dns_bucket_name(bucket) && !(r2 && bucket.contains('.')) {
        return Ok(());
    }
    let chars = if r2 {
        "a-z, 0-9 and '-'"
    } else {
        "a-z, 0-9, '-' and '.'"
    };
    Err(ConfigError::new(
        var,
        format!(
            "invalid bucket name {}: 3 to 63 characters of {chars}, starting and ending with a letter or digit",
            show(bucket)
        ),
    ))
}

/// `r2`: the account's endpoint, region `auto`, path-style.
fn r2(t: &TargetVars<'_>) -> Result<Place> {
    t.refuse("REGION")?;
    t.refuse("ENDPOINT")?;
    let (v, account) = t.require("ACCOUNT_ID")?;
    let endpoint = Endpoint::r2(&account).map_err(|_| {
        ConfigError::new(
            v,
            format!(
                "must be a Cloudflare account id (32 hex digits), got {}",
                show(&account.to_ascii_lowercase())
            ),
        )
    })?;
    Ok(Place {
        endpoint,
        region: "auto".to_owned(),
        path_style: true,
    })
}

/// `s3`: the region's AWS endpoint, virtual-hosted.
fn s3(t: &TargetVars<'_>) -> Result<Place> {
    t.refuse("ACCOUNT_ID")?;
    t.refuse("ENDPOINT")?;
    let (v, region) = t.require("REGION")?;
    let endpoint = Endpoint::aws(&region).map_err(|_| invalid_region(&v, &region))?;
    Ok(Place {
        endpoint,
        region,
        path_style: false,
    })
}

/// `custom`: the given endpoint, region `us-east-1` unless set, path-style.
fn custom(t: &TargetVars<'_>) -> Result<Place> {
    t.refuse("ACCOUNT_ID")?;
    let (v, raw) = t.require("ENDPOINT")?;
    let endpoint = parse_endpoint(&v, &raw, true)?;
    let region_var = t.var("REGION");
    let region = match t.vars.get(&region_var) {
        Some(r) if sigv4::is_valid_region(&r) => r,
        Some(r) => return Err(invalid_region(&region_var, &r)),
        None => DEFAULT_CUSTOM_REGION.to_owned(),
    };
    Ok(Place {
        endpoint,
        region,
        path_style: true,
    })
}

fn invalid_region(var: &str, region: &str) -> ConfigError {
    ConfigError::new(
        var,
        format!(
            "invalid region {}: use a-z, 0-9 and '-' (e.g. us-east-1)",
            show(region)
        ),
    )
}

/// The bucket at `place` in the style of `TARGET_<NAME>_PATH_STYLE`.
fn bucket_at(t: &TargetVars<'_>, place: &Place, name: &str) -> Result<Bucket> {
    let var = t.var("PATH_STYLE");
    let style = match t.vars.boolean(&var, place.path_style)? {
        true => AddressingStyle::Path,
        false if place.endpoint.is_ip_address() => {
            return Err(ConfigError::new(
                var,
                "virtual-hosted style (false) needs a DNS endpoint, not an IP address",
            ))
        }
        false => AddressingStyle::VirtualHosted,
    };
    Bucket::new(&place.endpoint, name, style).map_err(|e| match e {
        // The name passed `check_bucket_name`: only a dot under https is left.
        SignError::BucketNotVirtualHostable => ConfigError::new(
            var,
            "virtual-hosted style (false) over https does not work with dots in the bucket name (TLS); use true",
        ),
        e => ConfigError::new(t.var("BUCKET"), e.to_string()),
    })
}

fn validate_access_key_id(var: &str, id: &str) -> Result<()> {
    if id.len() > 128 || id.contains('/') || id.chars().any(char::is_whitespace) {
        return Err(ConfigError::new(
            var,
            "must be at most 128 characters without '/' or whitespace",
        ));
    }
    Ok(())
}

/// `<PREFIX>ACCESS_KEY_ID`, `<PREFIX>SECRET_ACCESS_KEY` and `<PREFIX>SESSION_TOKEN`: the id and
/// the secret together (plus an optional token), or none of them. `which` ends the message
/// when only one of the two is set.
fn credential_vars(vars: &Vars<'_>, prefix: &str, which: &str) -> Result<Option<S3Credentials>> {
    let (id_var, secret_var, token_var) = (
        format!("{prefix}ACCESS_KEY_ID"),
        format!("{prefix}SECRET_ACCESS_KEY"),
        format!("{prefix}SESSION_TOKEN"),
    );
    let id = vars.secret(&id_var)?;
    let secret = vars.secret(&secret_var)?;
    let token = vars.secret(&token_var)?;
    match (id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => {
            validate_access_key_id(&id_var, &access_key_id)?;
            Ok(Some(S3Credentials {
                access_key_id,
                secret_access_key,
                session_token: token,
            }))
        }
        (Some(_), None) => Err(ConfigError::new(
            secret_var,
            format!("missing ({id_var} is set; {which})"),
        )),
        (None, Some(_)) => Err(ConfigError::new(
            id_var,
            format!("missing ({secret_var} is set; {which})"),
        )),
        (None, None) if token.is_some() => Err(ConfigError::new(
            token_var,
            format!("set without {id_var} and {secret_var}"),
        )),
        (None, None) => Ok(None),
    }
}

/// `S3_*`, the credentials of every target that has none of its own.
fn global_credentials(vars: &Vars<'_>) -> Result<Option<S3Credentials>> {
    credential_vars(vars, "S3_", "both are needed")
}

/// `TARGET_<NAME>_{ACCESS_KEY_ID,SECRET_ACCESS_KEY,SESSION_TOKEN}`, else the global ones.
fn target_credentials(t: &TargetVars<'_>, global: Option<&S3Credentials>) -> Result<S3Credentials> {
    if let Some(own) = credential_vars(t.vars, &t.var(""), "per-target credentials need both")? {
        return Ok(own);
    }
    match global {
        Some(c) => Ok(c.clone()),
        None => Err(ConfigError::new(
            "S3_ACCESS_KEY_ID",
            format!(
                "missing (target {} has no {} either); set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY",
                show(t.name),
                t.var("ACCESS_KEY_ID")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn s3_virtual_hosted_by_default_and_china_suffix() {
        let c = parse(&with(&[
            ("TARGET_UPLOADS_KIND", "s3"),
            ("TARGET_UPLOADS_REGION", "cn-north-1"),
            ("TARGET_UPLOADS_ENDPOINT", ""),
        ]))
        .expect("valid");
        let t = &c.targets[0];
        assert!(!t.path_style());
        assert_eq!(t.endpoint.host(), "s3.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn custom_endpoint_forms() {
        let cases = [
            (
                "https://minio.example.com/",
                "https://minio.example.com",
                None,
            ),
            (
                "HTTPS://Minio.Example.com:443",
                "https://minio.example.com",
                None,
            ),
            ("http://localhost:80", "http://localhost", None),
            ("http://[::1]:9000", "http://[::1]:9000", Some(9000)),
            (
                "https://s3.example:8443",
                "https://s3.example:8443",
                Some(8443),
            ),
        ];
        for (raw, shown, port) in cases {
            let c = parse(&with(&[("TARGET_UPLOADS_ENDPOINT", raw)])).expect(raw);
            assert_eq!(c.targets[0].endpoint.to_string(), shown);
            assert_eq!(c.targets[0].endpoint.port(), port);
        }
        let c = parse(&with(&[
            ("TARGET_UPLOADS_ENDPOINT", "https://minio.example.com"),
            ("TARGET_UPLOADS_PATH_STYLE", "false"),
            ("TARGET_UPLOADS_REGION", "auto"),
        ]))
        .expect("valid");
        assert!(!c.targets[0].path_style());
        assert_eq!(c.targets[0].region, "auto");
    }

    #[test]
    fn write_and_read_credentials_are_separate_and_complete() {
        let c = parse(&with(&[
            ("TARGET_UPLOADS_WRITE_ACCESS_KEY_ID", "AKIDWRITE"),
            (
                "TARGET_UPLOADS_WRITE_SECRET_ACCESS_KEY",
                "write-secret-value",
            ),
            ("TARGET_UPLOADS_READ_ACCESS_KEY_ID", "AKIDREAD"),
            ("TARGET_UPLOADS_READ_SECRET_ACCESS_KEY", "read-secret-value"),
            ("TARGET_UPLOADS_READ_SESSION_TOKEN", "read-token"),
        ]))
        .expect("valid");
        let t = &c.targets[0];
        assert_eq!(t.credentials_for(Access::Write).access_key_id, "AKIDWRITE");
        assert_eq!(t.credentials_for(Access::Read).access_key_id, "AKIDREAD");
        assert_eq!(
            t.credentials_for(Access::Read).session_token.as_deref(),
            Some("read-token")
        );
        assert_eq!(t.shared_credentials_warning(), None);
        assert!(!format!("{t:?}").contains("secret-value"));

        // Unset: both fall back to the target's (here the global) credentials, and a custom
        // store gets the warning; s3 and r2 targets do not.
        let c = parse(&base()).expect("valid");
        let t = &c.targets[0];
        assert_eq!(
            t.credentials_for(Access::Write).access_key_id,
            "AKIDEXAMPLE"
        );
        assert_eq!(t.credentials_for(Access::Read).access_key_id, "AKIDEXAMPLE");
        let warning = t.shared_credentials_warning().expect("a warning");
        assert!(
            warning.contains("TARGET_UPLOADS_WRITE_ACCESS_KEY_ID"),
            "{warning}"
        );
        assert!(!warning.contains("wJalrXUtnFEMI"), "{warning}");
        let c = parse(&with(&[
            ("TARGET_UPLOADS_KIND", "s3"),
            ("TARGET_UPLOADS_REGION", "eu-west-1"),
            ("TARGET_UPLOADS_ENDPOINT", ""),
        ]))
        .expect("valid");
        assert_eq!(c.targets[0].shared_credentials_warning(), None);
        // Write credentials alone, the same key id as the reads: still one credential.
        let c = parse(&with(&[
            ("TARGET_UPLOADS_WRITE_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("TARGET_UPLOADS_WRITE_SECRET_ACCESS_KEY", "x"),
        ]))
        .expect("valid");
        assert!(c.targets[0].shared_credentials_warning().is_some());
    }

    #[test]
    fn rejects_half_write_or_read_credentials() {
        rejects(
            with(&[("TARGET_UPLOADS_WRITE_ACCESS_KEY_ID", "AKIDWRITE")]),
            "TARGET_UPLOADS_WRITE_SECRET_ACCESS_KEY",
            "missing (TARGET_UPLOADS_WRITE_ACCESS_KEY_ID is set",
        );
        rejects(
            with(&[("TARGET_UPLOADS_READ_SECRET_ACCESS_KEY", "TOP-SECRET-VALUE")]),
            "TARGET_UPLOADS_READ_ACCESS_KEY_ID",
            "missing",
        );
        rejects(
            with(&[("TARGET_UPLOADS_WRITE_SESSION_TOKEN", "TOP-SECRET-VALUE")]),
            "TARGET_UPLOADS_WRITE_SESSION_TOKEN",
            "set without",
        );
        rejects(
            with(&[
                ("TARGET_UPLOADS_READ_ACCESS_KEY_ID", "a/b"),
                ("TARGET_UPLOADS_READ_SECRET_ACCESS_KEY", "TOP-SECRET-VALUE"),
            ]),
            "TARGET_UPLOADS_READ_ACCESS_KEY_ID",
            "without '/'",
        );
    }

    #[test]
    fn per_target_credentials_replace_missing_globals() {
        let c = parse(&with(&[
            ("S3_ACCESS_KEY_ID", ""),
            ("S3_SECRET_ACCESS_KEY", ""),
            ("TARGET_UPLOADS_ACCESS_KEY_ID", "own"),
            ("TARGET_UPLOADS_SECRET_ACCESS_KEY", "own-secret"),
        ]))
        .expect("valid");
        assert_eq!(c.targets[0].credentials.access_key_id, "own");
    }

    #[test]
    fn rejects_target_lists() {
        rejects(with(&[("TARGETS", "uploads,uploads")]), "TARGETS", "twice");
        rejects(with(&[("TARGETS", "uploads,,x")]), "TARGETS", "empty entry");
        rejects(with(&[("TARGETS", "Uploads")]), "TARGETS", "lower-case");
        rejects(with(&[("TARGETS", "my-bucket")]), "TARGETS", "lower-case");
        rejects(with(&[("TARGETS", "9lives")]), "TARGETS", "lower-case");
        rejects(with(&[("TARGETS", &"a".repeat(33))]), "TARGETS", "32");
        rejects(
            with(&[("TARGETS", "uploads,archive")]),
            "TARGET_ARCHIVE_KIND",
            "missing",
        );
    }

    #[test]
    fn rejects_kinds_and_misplaced_settings() {
        rejects(
            without(&["TARGET_UPLOADS_KIND"]),
            "TARGET_UPLOADS_KIND",
            "missing",
        );
        rejects(
            with(&[("TARGET_UPLOADS_KIND", "R2")]),
            "TARGET_UPLOADS_KIND",
            "unknown kind 'R2'",
        );
        rejects(
            with(&[("TARGET_UPLOADS_KIND", "gcs")]),
            "TARGET_UPLOADS_KIND",
            "unknown kind",
        );
        rejects(
            with(&[(
                "TARGET_UPLOADS_ACCOUNT_ID",
                "0123456789abcdef0123456789abcdef",
            )]),
            "TARGET_UPLOADS_ACCOUNT_ID",
            "not used by kind custom",
        );
        rejects(
            with(&[
                ("TARGET_UPLOADS_KIND", "s3"),
                ("TARGET_UPLOADS_REGION", "us-east-1"),
            ]),
            "TARGET_UPLOADS_ENDPOINT",
            "not used by kind s3",
        );
        let r2 = |extra: &[(&str, &str)]| {
            let mut m = with(&[
                ("TARGET_UPLOADS_KIND", "r2"),
                ("TARGET_UPLOADS_ENDPOINT", ""),
                (
                    "TARGET_UPLOADS_ACCOUNT_ID",
                    "0123456789abcdef0123456789abcdef",
                ),
            ]);
            for (k, v) in extra {
                m.insert((*k).into(), (*v).into());
            }
            m
        };
        assert!(parse(&r2(&[])).is_ok());
        rejects(
            r2(&[("TARGET_UPLOADS_REGION", "auto")]),
            "TARGET_UPLOADS_REGION",
            "not used by kind r2",
        );
        rejects(
            r2(&[("TARGET_UPLOADS_ENDPOINT", "https://x.example")]),
            "TARGET_UPLOADS_ENDPOINT",
            "not used by kind r2",
        );
        rejects(
            r2(&[("TARGET_UPLOADS_ACCOUNT_ID", "")]),
            "TARGET_UPLOADS_ACCOUNT_ID",
            "missing",
        );
        rejects(
            r2(&[("TARGET_UPLOADS_ACCOUNT_ID", "abc")]),
            "TARGET_UPLOADS_ACCOUNT_ID",
            "32 hex",
        );
        rejects(
            r2(&[(
                "TARGET_UPLOADS_ACCOUNT_ID",
                "0123456789abcdef0123456789abcdeg",
            )]),
            "TARGET_UPLOADS_ACCOUNT_ID",
            "32 hex",
        );
        rejects(
            r2(&[("TARGET_UPLOADS_BUCKET", "my.bucket")]),
            "TARGET_UPLOADS_BUCKET",
            "invalid bucket",
        );
        rejects(
            with(&[
                ("TARGET_UPLOADS_KIND", "s3"),
                ("TARGET_UPLOADS_ENDPOINT", ""),
            ]),
            "TARGET_UPLOADS_REGION",
            "missing",
        );
        rejects(
            without(&["TARGET_UPLOADS_ENDPOINT"]),
            "TARGET_UPLOADS_ENDPOINT",
            "missing",
        );
    }

    #[test]
    fn rejects_buckets_and_regions() {
        for bad in [
            "ab",
            "Uploads",
            "-up",
            "up-",
            "up..x",
            "up_x",
            &"a".repeat(64),
            "up/x",
        ] {
            rejects(
                with(&[("TARGET_UPLOADS_BUCKET", bad)]),
                "TARGET_UPLOADS_BUCKET",
                "invalid bucket",
            );
        }
        rejects(
            without(&["TARGET_UPLOADS_BUCKET"]),
            "TARGET_UPLOADS_BUCKET",
            "missing",
        );
        for bad in ["US-EAST-1", "-x", "x-", "eu west", &"a".repeat(33)] {
            rejects(
                with(&[("TARGET_UPLOADS_REGION", bad)]),
                "TARGET_UPLOADS_REGION",
                "invalid region",
            );
        }
    }

    #[test]
    fn rejects_endpoints() {
        for (bad, why) in [
            ("127.0.0.1:9000", "scheme"),
            ("ftp://x.example", "scheme"),
            ("http://x.example/path", "no path"),
            ("http://x.example?q", "no path"),
            ("http://user@x.example", "user info"),
            ("http://", "invalid host"),
            ("http://x..example", "invalid host"),
            ("http://-x.example", "invalid host"),
            ("http://x_y.example", "invalid host"),
            ("http://x.example:0", "port"),
            ("http://x.example:65536", "port"),
            ("http://x.example:", "port"),
            ("http://x.example:+80", "port"),
            ("http://[::1", "unclosed"),
            ("http://[]:80", "IPv6"),
            ("http://[::1]x", "after ']'"),
        ] {
            rejects(
                with(&[("TARGET_UPLOADS_ENDPOINT", bad)]),
                "TARGET_UPLOADS_ENDPOINT",
                why,
            );
        }
    }

    #[test]
    fn rejects_virtual_hosted_where_it_cannot_work() {
        rejects(
            with(&[("TARGET_UPLOADS_PATH_STYLE", "false")]),
            "TARGET_UPLOADS_PATH_STYLE",
            "IP address",
        );
        rejects(
            with(&[
                ("TARGET_UPLOADS_KIND", "s3"),
                ("TARGET_UPLOADS_ENDPOINT", ""),
                ("TARGET_UPLOADS_REGION", "us-east-1"),
                ("TARGET_UPLOADS_BUCKET", "my.bucket"),
            ]),
            "TARGET_UPLOADS_PATH_STYLE",
            "dots",
        );
        rejects(
            with(&[("TARGET_UPLOADS_PATH_STYLE", "yes")]),
            "TARGET_UPLOADS_PATH_STYLE",
            "true or false",
        );
    }

    #[test]
    fn rejects_credentials() {
        rejects(
            without(&["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]),
            "S3_ACCESS_KEY_ID",
            "missing",
        );
        rejects(
            without(&["S3_SECRET_ACCESS_KEY"]),
            "S3_SECRET_ACCESS_KEY",
            "missing",
        );
        rejects(
            without(&["S3_ACCESS_KEY_ID"]),
            "S3_ACCESS_KEY_ID",
            "missing",
        );
        rejects(
            {
                let mut m = without(&["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]);
                m.insert("S3_SESSION_TOKEN".into(), "t".into());
                m
            },
            "S3_SESSION_TOKEN",
            "without",
        );
        rejects(
            with(&[("S3_ACCESS_KEY_ID", "a/b")]),
            "S3_ACCESS_KEY_ID",
            "'/'",
        );
        rejects(
            with(&[("S3_ACCESS_KEY_ID", "a b")]),
            "S3_ACCESS_KEY_ID",
            "whitespace",
        );
        rejects(
            with(&[("S3_SECRET_ACCESS_KEY", "secret\n")]),
            "S3_SECRET_ACCESS_KEY",
            "whitespace",
        );
        rejects(
            with(&[("S3_SECRET_ACCESS_KEY", "sec\u{7}ret")]),
            "S3_SECRET_ACCESS_KEY",
            "control",
        );
        rejects(
            with(&[("TARGET_UPLOADS_ACCESS_KEY_ID", "own")]),
            "TARGET_UPLOADS_SECRET_ACCESS_KEY",
            "missing",
        );
        rejects(
            with(&[("TARGET_UPLOADS_SECRET_ACCESS_KEY", "own")]),
            "TARGET_UPLOADS_ACCESS_KEY_ID",
            "missing",
        );
        rejects(
            with(&[("TARGET_UPLOADS_SESSION_TOKEN", "t")]),
            "TARGET_UPLOADS_SESSION_TOKEN",
            "without",
        );
        rejects(
            with(&[
                ("TARGET_UPLOADS_ACCESS_KEY_ID", "o/wn"),
                ("TARGET_UPLOADS_SECRET_ACCESS_KEY", "own"),
            ]),
            "TARGET_UPLOADS_ACCESS_KEY_ID",
            "'/'",
        );
    }

    #[test]
    fn r2_account_ids_are_32_hex_digits_as_in_sigv4() {
        // The one rule (sigv4::Endpoint::r2): what sigv4 refuses, the configuration refuses,
        // naming the variable; an id sigv4 accepted before (up to 63 alphanumerics) is refused.
        let r2 = |account: &str| {
            with(&[
                ("TARGET_UPLOADS_KIND", "r2"),
                ("TARGET_UPLOADS_ENDPOINT", ""),
                ("TARGET_UPLOADS_ACCOUNT_ID", account),
            ])
        };
        for bad in [
            "abc123",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef0123456789abcdeZ",
        ] {
            assert!(Endpoint::r2(bad).is_err(), "{bad}");
            rejects(r2(bad), "TARGET_UPLOADS_ACCOUNT_ID", "32 hex");
        }
        let c = parse(&r2("0123456789ABCDEF0123456789ABCDEF")).expect("valid");
        assert_eq!(
            c.targets[0].endpoint,
            Endpoint::r2("0123456789abcdef0123456789abcdef").expect("valid")
        );
        assert_eq!(
            c.targets[0].bucket.origin(),
            "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com"
        );
    }
}
