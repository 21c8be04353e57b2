//! Finding the signature's parts in a request: the `Authorization` header form or the presigned
//! query-string form.
//!
//! Only presence and shape are checked here, with the errors DynamoDB gives for them; the meaning
//! of each part (date window, scope, key, signature) is checked by the caller.

use super::canonical::decode_query;
use super::errors;
use super::RequestParts;
use crate::error::ApiError;

/// Where the signature was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
    Header,
    /// `?X-Amz-Algorithm=...&X-Amz-Credential=...&X-Amz-Signature=...` (a presigned request).
    Query,
}

/// Where the request's date came from; decides how it is parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DateSource {
    /// `X-Amz-Date` header or query parameter: ISO-8601 basic format.
    AmzDate,
    /// The HTTP `Date` header, used only when there is no `X-Amz-Date`.
    HttpDate,
}

/// The parts of a SigV4 signature, as sent (query parameters already percent-decoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SignatureParts {
    pub form: Form,
    pub algorithm: String,
    pub credential: String,
    pub signed_headers: String,
    pub signature: String,
    pub date: String,
    pub date_source: DateSource,
    /// `X-Amz-Expires` of a presigned request, unparsed.
    pub expires: Option<String>,
}

/// The first value of header `name` (ASCII case-insensitive), if any.
pub(crate) fn first_header<'a>(req: &RequestParts<'a>, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Finds and shape-checks the signature. A request with no SigV4 signature at all is a
/// MissingAuthenticationTokenException, one signed both ways an InvalidSignatureException.
pub(crate) fn signature_parts(req: &RequestParts) -> Result<SignatureParts, ApiError> {
    let authorization = first_header(req, "authorization");
    let query: Vec<(String, String)> = req.query.map(decode_query).unwrap_or_default();
    let query_param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let presigned = query.iter().any(|(k, _)| k == "X-Amz-Algorithm");

    match authorization {
        Some(_) if presigned => Err(errors::both_header_and_query()),
        Some(header) if header.trim_start().starts_with("AWS4-") => from_header(req, header),
        Some(_) => Err(errors::missing_token()),
        None if presigned => from_query(&query_param),
        None => Err(errors::missing_token()),
    }
}

/// The header form. Parameters are separated by commas and/or spaces; DynamoDB requires
/// Credential, Signature and SignedHeaders (an empty SignedHeaders counts as present), and a date.
fn from_header(req: &RequestParts, header: &str) -> Result<SignatureParts, ApiError> {
    let trimmed = header.trim();
    let (algorithm, rest) = trimmed
        .split_once(|c: char| c == ',' || c.is_ascii_whitespace())
        .unwrap_or((trimmed, ""));
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for element in rest
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|e| !e.is_empty())
    {
        let Some((key, value)) = element.split_once('=') else {
            return Err(errors::not_key_value(element, header));
        };
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    let credential = credential.filter(|v| !v.is_empty());
    let signature = signature.filter(|v| !v.is_empty());

    let amz_date = first_header(req, "x-amz-date").filter(|v| !v.is_empty());
    let http_date = first_header(req, "date").filter(|v| !v.is_empty());
    let date = match (amz_date, http_date) {
        (Some(d), _) => Some((d, DateSource::AmzDate)),
        (None, Some(d)) => Some((d, DateSource::HttpDate)),
        (None, None) => None,
    };

    let mut missing = String::new();
    for (name, value) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed_headers),
    ] {
        if value.is_none() {
            missing.push_str(&errors::header_requires(name));
        }
    }
    if date.is_none() {
        missing.push_str(errors::HEADER_REQUIRES_DATE);
    }
    match (credential, signature, signed_headers, date) {
        (Some(credential), Some(signature), Some(signed_headers), Some((date, date_source)))
            if missing.is_empty() =>
        {
            Ok(SignatureParts {
                form: Form::Header,
                algorithm: algorithm.to_string(),
                credential: credential.to_string(),
                signed_headers: signed_headers.to_string(),
                signature: signature.to_string(),
                date: date.to_string(),
                date_source,
                expires: None,
            })
        }
        _ => Err(errors::incomplete_header(&missing, header)),
    }
}

/// The presigned form: five parameters are required (non-empty); X-Amz-Expires is optional.
fn from_query<'q>(param: &dyn Fn(&str) -> Option<&'q str>) -> Result<SignatureParts, ApiError> {
    const REQUIRED: [&str; 5] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
    ];
    let values = REQUIRED.map(param);
    let missing: String = REQUIRED
        .iter()
        .zip(values)
        .filter(|(_, v)| v.is_none())
        .map(|(name, _)| errors::query_requires(name))
        .collect();
    let [Some(algorithm), Some(credential), Some(signature), Some(signed_headers), Some(date)] =
        values
    else {
        return Err(errors::incomplete_query(&missing));
    };
    Ok(SignatureParts {
        form: Form::Query,
        algorithm: algorithm.to_string(),
        credential: credential.to_string(),
        signed_headers: signed_headers.to_string(),
        signature: signature.to_string(),
        date: date.to_string(),
        date_source: DateSource::AmzDate,
        expires: param("X-Amz-Expires").map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn parts(headers: &[(&str, &str)], query: Option<&str>) -> Result<SignatureParts, ApiError> {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let req = RequestParts {
            method: "POST",
            path: "/",
            query,
            headers: &headers,
            body: b"",
        };
        signature_parts(&req)
    }

    const DATE: (&str, &str) = ("x-amz-date", "20130609T100015Z");

    #[test]
    fn header_form_as_sdks_send_it() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKID/20130609/us-east-1/dynamodb/aws4_request, \
                    SignedHeaders=host;x-amz-date, Signature=abcd";
        let p = parts(&[("authorization", auth), DATE], None).unwrap();
        assert_eq!(p.form, Form::Header);
        assert_eq!(p.algorithm, "AWS4-HMAC-SHA256");
        assert_eq!(
            p.credential,
            "AKID/20130609/us-east-1/dynamodb/aws4_request"
        );
        assert_eq!(p.signed_headers, "host;x-amz-date");
        assert_eq!(p.signature, "abcd");
        assert_eq!(
            (p.date.as_str(), p.date_source),
            ("20130609T100015Z", DateSource::AmzDate)
        );

        // No spaces after commas, and spaces only, both parse the same.
        for auth in [
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=host,Signature=ab",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e SignedHeaders=host Signature=ab",
            "  AWS4-HMAC-SHA256   Signature=ab,,Credential=a/b/c/d/e ,SignedHeaders=host  ",
        ] {
            let p = parts(&[("authorization", auth), DATE], None).unwrap();
            assert_eq!(
                (p.credential.as_str(), p.signature.as_str()),
                ("a/b/c/d/e", "ab")
            );
            assert_eq!(p.signed_headers, "host");
        }
    }

    #[test]
    fn date_header_is_the_fallback() {
        let auth = "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host;date, Signature=ab";
        let date = "Sun, 09 Jun 2013 10:00:15 GMT";
        let p = parts(&[("authorization", auth), ("date", date)], None).unwrap();
        assert_eq!(
            (p.date.as_str(), p.date_source),
            (date, DateSource::HttpDate)
        );
        let p = parts(&[("authorization", auth), ("date", date), DATE], None).unwrap();
        assert_eq!(p.date_source, DateSource::AmzDate);
    }

    #[test]
    fn no_signature_at_all() {
        for headers in [
            vec![],
            vec![("authorization", "Bearer abc")],
            vec![("authorization", "AWS3-HTTPS AWSAccessKeyId=a")],
            vec![("authorization", "")],
        ] {
            let err = parts(&headers, Some("a=b")).unwrap_err();
            assert_eq!(err.kind, ErrorKind::MissingAuthenticationToken);
            assert_eq!(err.message, "Request is missing Authentication Token");
        }
    }

    #[test]
    fn both_forms_at_once() {
        let err = parts(
            &[("authorization", "AWS4-HMAC-SHA256")],
            Some("X-Amz-Algorithm=x"),
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidSignature);
        assert_eq!(
            err.message,
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP \
             header."
        );
    }

    #[test]
    fn missing_header_parameters_are_listed_together() {
        let err = parts(&[("authorization", "AWS4-HMAC-SHA256")], None).unwrap_err();
        assert_eq!(err.kind, ErrorKind::IncompleteSignature);
        assert_eq!(
            err.message,
            "Authorization header requires 'Credential' parameter. Authorization header requires \
             'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
             Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' \
             header. Authorization=AWS4-HMAC-SHA256"
        );

        let auth = "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=x";
        let err = parts(&[("authorization", auth), DATE], None).unwrap_err();
        assert_eq!(
            err.message,
            format!("Authorization header requires 'Credential' parameter. Authorization={auth}")
        );
    }

    #[test]
    fn element_without_equal_sign() {
        let auth = "AWS4-HMAC-SHA256 Signature=b,    Credential,    SignedHeaders";
        let err = parts(&[("authorization", auth)], None).unwrap_err();
        assert_eq!(err.kind, ErrorKind::IncompleteSignature);
        assert_eq!(
            err.message,
            "'Credential' not a valid key=value pair (missing equal-sign) in Authorization header: \
             'AWS4-HMAC-SHA256 Signature=b,    Credential,    SignedHeaders'."
        );
    }

    #[test]
    fn query_form() {
        let q = "Action=x&X-Amz-Algorithm=AWS4-HMAC-SHA256\
                 &X-Amz-Credential=AKID%2F20130609%2Fus-east-1%2Fdynamodb%2Faws4_request\
                 &X-Amz-Date=20130609T100015Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host\
                 &X-Amz-Signature=ab";
        let p = parts(&[], Some(q)).unwrap();
        assert_eq!(p.form, Form::Query);
        assert_eq!(
            p.credential,
            "AKID/20130609/us-east-1/dynamodb/aws4_request"
        );
        assert_eq!(p.expires.as_deref(), Some("300"));
        assert_eq!(p.signature, "ab");
    }

    #[test]
    fn missing_query_parameters_are_listed_together() {
        let err = parts(&[], Some("X-Amz-Algorithm=&X-Amz-Date=20130609T100015Z")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::IncompleteSignature);
        assert_eq!(
            err.message,
            "AWS query-string parameters must include 'X-Amz-Algorithm'. AWS query-string \
             parameters must include 'X-Amz-Credential'. AWS query-string parameters must \
             include 'X-Amz-Signature'. AWS query-string parameters must include \
             'X-Amz-SignedHeaders'. Re-examine the query-string parameters."
        );
    }
}
