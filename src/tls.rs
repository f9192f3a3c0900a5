//! TLS for LDAPS, StartTLS and HTTPS: rustls with TLS 1.2 and 1.3 only,
//! a certificate chain and key read from PEM files, and development
//! certificates (`roster cert dev`) for 127.0.0.1 and localhost.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// Reads the certificate chain and key and builds the acceptor every TLS
/// listener shares.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate in the file", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key do not go together: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Writes a development CA (`ca.pem`) and a server certificate it signed
/// (`server.pem`, with the CA appended) and key (`server.key`) for
/// 127.0.0.1, ::1 and localhost. For tests and trying Roster out only.
pub fn dev_certificates(out: &Path) -> Result<(), String> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let fail = |e: rcgen::Error| e.to_string();
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let ca_key = KeyPair::generate().map_err(fail)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca.distinguished_name.push(
        DnType::CommonName,
        "Roster development CA (not for production)",
    );
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(fail)?;
    let key = KeyPair::generate().map_err(fail)?;
    let mut server = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .map_err(fail)?;
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = server.signed_by(&key, &ca_cert, &ca_key).map_err(fail)?;
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write("ca.pem", ca_cert.pem())?;
    write("server.pem", format!("{}{}", cert.pem(), ca_cert.pem()))?;
    write("server.key", key.serialize_pem())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = out.join("server.key");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dev_certificates_load() {
        let dir = tempfile::tempdir().unwrap();
        super::dev_certificates(dir.path()).unwrap();
        super::acceptor(
            &dir.path().join("server.pem"),
            &dir.path().join("server.key"),
        )
        .unwrap();
        assert!(super::acceptor(&dir.path().join("ca.pem"), &dir.path().join("nope")).is_err());
    }
}
