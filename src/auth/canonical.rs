//! The canonical request of SigV4, rebuilt from the request as received.
//!
//! The signer computed it from the request it was about to send; we must compute the same bytes
//! from what arrived. Where the AWS SDKs disagree with each other on an edge case, each function
//! returns every distinct variant (usually just one), and the caller accepts a signature that
//! matches any of them:
//!
//! - Path: all SDKs remove dot segments and empty segments, then percent-encode the path as sent
//!   a second time (`%` becomes `%25`), as SigV4 asks for every service but S3. They differ on a
//!   path ending in `/.` or `/..`: botocore and the JS SDK drop the trailing slash, the Rust SDK
//!   keeps it.
//! - Query: the Rust and JS SDKs decode the query (`+` as a space) and re-encode it strictly;
//!   botocore signs a query that is already in the URL verbatim, only sorted.
//! - Header values: the Rust SDK trims and collapses spaces only, as the SigV4 documentation
//!   says; botocore and the JS SDK collapse any run of whitespace, tabs included.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters SigV4's `UriEncode` leaves alone: A-Z, a-z, 0-9, `-`, `_`, `.`, `~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The same, also leaving `/` alone, for paths.
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte, and
/// bytes that are not UTF-8 become U+FFFD (as the Rust SDK's signer reads them).
fn form_decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// SigV4's `UriEncode` of a query key or value.
fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The query string's parameters, decoded, in order; empty `&&` segments are skipped and a
/// parameter without `=` has an empty value.
pub(crate) fn decode_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(key), form_decode(value))
        })
        .collect()
}

/// The canonical query strings for `raw`. `X-Amz-Signature` is left out of a presigned request's
/// (it cannot sign itself); pass `presigned` for that form.
pub(crate) fn canonical_queries(raw: Option<&str>, presigned: bool) -> Vec<String> {
    let raw = raw.unwrap_or("");
    let is_signature = |key: &str| presigned && key == "X-Amz-Signature";

    let mut reencoded: Vec<(String, String)> = decode_query(raw)
        .into_iter()
        .filter(|(k, _)| !is_signature(k))
        .map(|(k, v)| (encode(&k), encode(&v)))
        .collect();
    reencoded.sort();
    let strict = join_pairs(reencoded.iter().map(|(k, v)| (k.as_str(), v.as_str())));

    let mut verbatim: Vec<(&str, &str)> = if raw.is_empty() {
        Vec::new()
    } else {
        raw.split('&')
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
            .filter(|(k, _)| !is_signature(k))
            .collect()
    };
    verbatim.sort();
    let verbatim = join_pairs(verbatim.into_iter());

    distinct(vec![strict, verbatim])
}

fn join_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (i, (key, value)) in pairs.enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// The canonical URIs for the path as sent.
pub(crate) fn canonical_paths(raw: &str) -> Vec<String> {
    distinct(vec![
        utf8_percent_encode(&remove_dot_segments(raw), UNRESERVED_AND_SLASH).to_string(),
        utf8_percent_encode(&remove_dot_segments_keep_slash(raw), UNRESERVED_AND_SLASH).to_string(),
    ])
}

/// The segments left after removing empty and dot segments (RFC 3986 5.2.4, plus the empty
/// segments AWS also drops).
fn kept_segments(path: &str) -> Vec<&str> {
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    segments
}

/// botocore's `normalize_url_path` (the JS SDK's is the same): a trailing slash survives only if
/// the path ends in `/` and something is left.
fn remove_dot_segments(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    let segments = kept_segments(path);
    let first = if path.starts_with('/') { "/" } else { "" };
    let last = if path.ends_with('/') && !segments.is_empty() {
        "/"
    } else {
        ""
    };
    format!("{first}{}{last}", segments.join("/"))
}

/// The Rust SDK's `normalize_uri_path`: always absolute, and a path ending in `/.` or `/..` keeps
/// a trailing slash.
fn remove_dot_segments_keep_slash(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    let absolute = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    if !absolute.contains('.') && !absolute.contains("//") {
        return absolute;
    }
    let mut result = format!("/{}", kept_segments(&absolute).join("/"));
    let trailing = ["/", "/.", "/./", "/..", "/../"]
        .iter()
        .any(|s| absolute.ends_with(s));
    if trailing && !result.ends_with('/') {
        result.push('/');
    }
    result
}

/// SigV4's `Trimall` as the documentation states it: trim spaces, collapse runs of spaces.
fn trim_spaces(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for word in value.split(' ').filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `Trimall` as botocore (`' '.join(value.split())`) and the JS SDK (`/\s+/g`) do it.
fn trim_whitespace(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical header blocks (`name:value\n` for each signed header, in the order listed in
/// SignedHeaders) for the request's headers. Several values of one header are joined with `,`
/// in the order received; a signed header the request lacks gets an empty value, which then
/// fails to match.
pub(crate) fn canonical_headers(headers: &[(String, String)], signed_headers: &str) -> Vec<String> {
    let block = |normalize: fn(&str) -> String| {
        let mut out = String::new();
        for name in signed_headers.split(';') {
            out.push_str(name);
            out.push(':');
            let values = headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
            for (i, (_, value)) in values.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&normalize(value));
            }
            out.push('\n');
        }
        out
    };
    distinct(vec![block(trim_spaces), block(trim_whitespace)])
}

/// Assembles one canonical request.
pub(crate) fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &str,
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    format!("{method}\n{path}\n{query}\n{headers}\n{signed_headers}\n{payload_hash}")
}

/// `variants` without repeats, first occurrence first.
fn distinct(mut variants: Vec<String>) -> Vec<String> {
    let mut seen = 0;
    while seen < variants.len() {
        if variants[..seen].contains(&variants[seen]) {
            variants.remove(seen);
        } else {
            seen += 1;
        }
    }
    variants
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn paths_are_normalized_then_encoded_again() {
        assert_eq!(canonical_paths(""), ["/"]);
        assert_eq!(canonical_paths("/"), ["/"]);
        assert_eq!(canonical_paths("//"), ["/"]);
        assert_eq!(canonical_paths("/a%20b/c"), ["/a%2520b/c"]);
        assert_eq!(canonical_paths("/foo/../bar//baz/./q/"), ["/bar/baz/q/"]);
        assert_eq!(canonical_paths("/../x"), ["/x"]);
        assert_eq!(canonical_paths("/~a-b_c.d"), ["/~a-b_c.d"]);
        assert_eq!(
            canonical_paths("/a:b,c@d!e$(f)*'+;="),
            ["/a%3Ab%2Cc%40d%21e%24%28f%29%2A%27%2B%3B%3D"]
        );
        assert_eq!(canonical_paths("/€"), ["/%E2%82%AC"]);
        // The SDKs disagree on a trailing dot segment: both are candidates.
        assert_eq!(canonical_paths("/a/b/."), ["/a/b", "/a/b/"]);
        assert_eq!(canonical_paths("/a/b/.."), ["/a", "/a/"]);
        assert_eq!(canonical_paths("*"), ["%2A", "/%2A"]);
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        assert_eq!(canonical_queries(None, false), [""]);
        assert_eq!(canonical_queries(Some(""), false), [""]);
        assert_eq!(
            canonical_queries(Some("b=2&a=1&a=0&c"), false),
            ["a=0&a=1&b=2&c="]
        );
        // `+` is a space to the Rust SDK; botocore would have signed it verbatim.
        assert_eq!(
            canonical_queries(Some("q=a+b"), false),
            ["q=a%20b", "q=a+b"]
        );
        assert_eq!(
            canonical_queries(Some("q=a%2fb&r=%7E"), false),
            ["q=a%2Fb&r=~", "q=a%2fb&r=%7E"]
        );
        assert_eq!(
            canonical_queries(Some("k=%E2%82%AC&z=%2B"), false),
            ["k=%E2%82%AC&z=%2B"]
        );
        // Sorting is by encoded key, then value, bytewise: uppercase before lowercase.
        assert_eq!(
            canonical_queries(Some("b=1&B=2&a=3"), false),
            ["B=2&a=3&b=1"]
        );
        // Broken escapes do not panic and stay distinguishable.
        assert_eq!(
            canonical_queries(Some("a=%zz&b=%"), false),
            ["a=%25zz&b=%25", "a=%zz&b=%"]
        );
    }

    #[test]
    fn presigned_query_leaves_out_the_signature() {
        let raw = "X-Amz-Date=20130609T100015Z&X-Amz-Signature=abc&Action=x";
        assert_eq!(
            canonical_queries(Some(raw), true),
            ["Action=x&X-Amz-Date=20130609T100015Z"]
        );
        assert_eq!(
            canonical_queries(Some(raw), false),
            ["Action=x&X-Amz-Date=20130609T100015Z&X-Amz-Signature=abc"]
        );
    }

    #[test]
    fn header_values_are_trimmed_and_joined() {
        let h = headers(&[
            ("host", "example.com"),
            ("x-amz-meta", "  a   b  "),
            ("x-dup", "one"),
            ("x-other", "skip me"),
            ("x-dup", "two  three"),
        ]);
        assert_eq!(
            canonical_headers(&h, "host;x-amz-meta;x-dup"),
            ["host:example.com\nx-amz-meta:a b\nx-dup:one,two three\n"]
        );
        assert_eq!(
            canonical_headers(&h, "host;x-missing"),
            ["host:example.com\nx-missing:\n"]
        );
        let tabs = headers(&[("x-t", "a\t\tb  c")]);
        assert_eq!(
            canonical_headers(&tabs, "x-t"),
            ["x-t:a\t\tb c\n", "x-t:a b c\n"]
        );
    }

    #[test]
    fn canonical_request_layout() {
        assert_eq!(
            canonical_request("POST", "/", "", "host:h\n", "host", "abc"),
            "POST\n/\n\nhost:h\n\nhost\nabc"
        );
    }
}
