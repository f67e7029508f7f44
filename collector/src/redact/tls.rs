//! The public facts of a `kubernetes.io/tls` Secret's certificate chain,
//! read before the Secret loses its values.
//!
//! Only `tls.crt` is read, and only its `CERTIFICATE` PEM blocks; the facts
//! ([`kpm_bundle::secret::TlsFacts`]) go to the annotation
//! [`kpm_bundle::secret::TLS_FACTS`]. The key, any other PEM block and the
//! certificate bytes themselves are never copied anywhere. A Secret whose
//! `tls.crt` is empty (a bundle being redacted again, or served by
//! `kpm-analyze serve` and collected back) keeps the facts it carries.

use std::net::IpAddr;

use base64::Engine as _;
use kpm_bundle::secret::{CertificateFacts, TlsFacts, TLS_FACTS, TLS_SECRET_TYPE};
use serde_json::Value;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;
use x509_parser::time::ASN1Time;
use x509_parser::x509::X509Version;

/// At most this many certificates are described per Secret: a chain is two
/// or three; more is a bundle of CAs nobody reads certificate by certificate.
const MAX_CERTIFICATES: usize = 16;

/// Adds the facts of `secret`'s `tls.crt` as the [`TLS_FACTS`] annotation
/// when it is a TLS Secret with a non-empty `tls.crt`. Runs before the
/// values are stripped.
pub fn annotate(secret: &mut Value) {
    if secret.get("type").and_then(Value::as_str) != Some(TLS_SECRET_TYPE) {
        return;
    }
    let Some(encoded) = secret.pointer("/data/tls.crt").and_then(Value::as_str) else {
        return;
    };
    if encoded.is_empty() {
        return;
    }
    let facts = match base64::engine::general_purpose::STANDARD.decode(encoded) {
        Ok(pem) => facts_of_pem(&pem),
        Err(e) => TlsFacts {
            certificates: Vec::new(),
            error: Some(format!("tls.crt is not base64: {e}")),
        },
    };
    let Ok(text) = serde_json::to_string(&facts) else {
        return;
    };
    let Some(meta) = secret.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let ann = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if !ann.is_object() {
        *ann = Value::Object(serde_json::Map::new());
    }
    if let Some(map) = ann.as_object_mut() {
        map.insert(TLS_FACTS.to_string(), Value::String(text));
    }
}

/// The facts of every `CERTIFICATE` block of a PEM file.
pub fn facts_of_pem(pem: &[u8]) -> TlsFacts {
    let mut out = TlsFacts::default();
    let mut blocks = 0;
    for block in Pem::iter_from_buffer(pem) {
        let block = match block {
            Ok(b) => b,
            Err(e) => {
                out.error = Some(format!("tls.crt is not PEM: {e}"));
                break;
            }
        };
        blocks += 1;
        if block.label != "CERTIFICATE" {
            continue;
        }
        if out.certificates.len() == MAX_CERTIFICATES {
            break;
        }
        match block.parse_x509() {
            Ok(cert) => out.certificates.push(facts_of(&cert)),
            Err(e) => {
                out.error = Some(format!(
                    "certificate {} of tls.crt is not X.509: {e}",
                    out.certificates.len() + 1
                ));
                break;
            }
        }
    }
    if blocks == 0 && out.error.is_none() {
        out.error = Some("tls.crt holds no PEM block".into());
    }
    out
}

fn rfc3339(t: ASN1Time) -> String {
    chrono::DateTime::from_timestamp(t.timestamp(), 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn facts_of(cert: &x509_parser::certificate::X509Certificate<'_>) -> CertificateFacts {
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns_names.push((*d).to_string()),
                GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        ip_addresses.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    // A v1 certificate has no extensions, so no CA flag to read.
    let is_ca = cert.version() != X509Version::V1 && cert.is_ca();
    CertificateFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: cert.raw_serial_as_string(),
        not_before: rfc3339(cert.validity().not_before),
        not_after: rfc3339(cert.validity().not_after),
        dns_names,
        ip_addresses,
        is_ca,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A self-signed P-256 certificate made with
    /// `openssl req -x509 -newkey ec -subj "/CN=shop.example.com/O=Acme Shop"
    /// -addext "subjectAltName=DNS:shop.example.com,DNS:www.shop.example.com,IP:10.0.0.7"
    /// -set_serial 0x1f2e3d -days 90`, and its key.
    pub(crate) const CERT: &str = include_str!("tls_test_cert.pem");
    pub(crate) const KEY: &str = include_str!("tls_test_key.pem");

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn facts_name_subject_sans_issuer_validity_and_serial() {
        let facts = facts_of_pem(format!("{CERT}{KEY}").as_bytes());
        assert_eq!(facts.error, None);
        assert_eq!(facts.certificates.len(), 1, "the key block is skipped");
        let c = &facts.certificates[0];
        assert!(c.subject.contains("CN=shop.example.com"), "{}", c.subject);
        assert!(c.subject.contains("O=Acme Shop"), "{}", c.subject);
        assert_eq!(c.issuer, c.subject, "self-signed");
        assert_eq!(c.serial, "1f:2e:3d");
        assert_eq!(c.dns_names, ["shop.example.com", "www.shop.example.com"]);
        assert_eq!(c.ip_addresses, ["10.0.0.7"]);
        assert_eq!(c.not_before, "2026-12-02T03:44:21Z");
        assert_eq!(c.not_after, "2027-03-02T03:44:21Z");
    }

    #[test]
    fn damaged_pem_is_an_error_not_a_panic() {
        assert!(facts_of_pem(b"hello").error.is_some());
        let bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let f = facts_of_pem(bad.as_bytes());
        assert!(f.certificates.is_empty());
        assert!(f.error.unwrap().contains("not X.509"));
    }

    #[test]
    fn only_tls_secrets_with_a_certificate_are_annotated() {
        let mut opaque =
            json!({"type": "Opaque", "metadata": {"name": "x"}, "data": {"tls.crt": b64(CERT)}});
        annotate(&mut opaque);
        assert!(opaque.pointer("/metadata/annotations").is_none());
        let facts = TlsFacts {
            certificates: vec![CertificateFacts::default()],
            error: None,
        };
        let kept = serde_json::to_string(&facts).unwrap();
        let mut served = json!({"type": TLS_SECRET_TYPE, "metadata": {"name": "x", "annotations": {TLS_FACTS: kept}}, "data": {"tls.crt": ""}});
        annotate(&mut served);
        assert_eq!(served["metadata"]["annotations"][TLS_FACTS], kept);
    }
}
