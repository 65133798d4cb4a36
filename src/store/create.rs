//! CreateMultipartUpload (`POST /<key>?uploads`): the worker starts the upload itself, with
//! the content type the policy allowed signed, and reads the store's upload id.

use super::{success, xml, Answer, StoreError};
use crate::sigv4::{Bucket, Method, ObjectRequest, Payload, SignError, SignedRequest, Signer};

/// The header-signed request that creates an upload of `key` with `content_type`.
pub fn request(
    signer: &Signer,
    bucket: &Bucket,
    key: &str,
    content_type: &str,
    now: u64,
) -> Result<SignedRequest, SignError> {
    let req = ObjectRequest {
        method: Method::Post,
        key,
        query: &[("uploads", "")],
        headers: &[("content-type", content_type)],
    };
    signer.sign(bucket, &req, Payload::Bytes(b""), now)
}

/// The store's upload id from its `InitiateMultipartUploadResult`, when it is for `key`.
pub fn parse(answer: &Answer<'_>, key: &str) -> Result<String, StoreError> {
    let body = success(answer)?;
    let result = xml::elements(body, "InitiateMultipartUploadResult");
    let result = result
        .first()
        .ok_or(StoreError::Malformed("no InitiateMultipartUploadResult"))?;
    if xml::text(result, "Key").is_some_and(|k| k != key) {
        return Err(StoreError::Malformed("the upload is for another key"));
    }
    let id = xml::text(result, "UploadId").ok_or(StoreError::Malformed("no UploadId"))?;
    crate::policy::validate_upload_id(&id)
        .map_err(|_| StoreError::Malformed("an UploadId of an unexpected shape"))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upload_id_of_the_answer() {
        // The example answer of the S3 API reference (CreateMultipartUpload).
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
</InitiateMultipartUploadResult>"#;
        let ok = |status, body| parse(&Answer { status, body }, "example-object");
        assert_eq!(
            ok(200, body).as_deref(),
            Ok("VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA")
        );
        assert_eq!(
            parse(&Answer { status: 200, body }, "other"),
            Err(StoreError::Malformed("the upload is for another key"))
        );
        for bad in [
            "",
            "<html>proxy error</html>",
            "<InitiateMultipartUploadResult><UploadId></UploadId></InitiateMultipartUploadResult>",
            "<InitiateMultipartUploadResult><UploadId>a b</UploadId></InitiateMultipartUploadResult>",
        ] {
            assert!(matches!(ok(200, bad), Err(StoreError::Malformed(_))), "{bad}");
        }
        assert_eq!(
            ok(403, "<Error><Code>AccessDenied</Code></Error>"),
            Err(StoreError::Refused {
                status: 403,
                code: "AccessDenied".into()
            })
        );
    }
}
