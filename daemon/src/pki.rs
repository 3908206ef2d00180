//! The appliance's own small certificate authority.
//!
//! On first start the daemon creates a CA (`tls/ca.pem`, key `tls/ca.key`,
//! 0600), a server certificate for the configured names, and an
//! administrator credential bundle (`credentials/admin.pem`, 0600). Client
//! certificates carry the holder's identity in their subject: `CN` is the
//! name, `OU` the role, `O` the originating agency (for `dms` credentials).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

/// Why the certificate authority could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a usable PEM certificate or key: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
}

/// A certificate and its private key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct CertifiedKey {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A newly issued client certificate.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    pub certified: CertifiedKey,
    /// Lowercase hex of the certificate's serial number.
    pub serial: String,
    pub not_after: OffsetDateTime,
}

/// The CA: issues the server's and the clients' certificates.
pub struct Pki {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// What a client certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub name: String,
    pub role: String,
    pub agency: Option<String>,
}

impl Pki {
    /// Opens the CA in `dir`, creating it on first start. `ca_name` names it.
    pub fn open_or_create(dir: &Path, ca_name: &str) -> Result<(Pki, bool), PkiError> {
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
        if cert_path.exists() {
            let ca_pem = read(&cert_path)?;
            let key = KeyPair::from_pem(&read(&key_path)?).map_err(|e| PkiError::Malformed {
                path: key_path.clone(),
                reason: e.to_string(),
            })?;
            let issuer =
                Issuer::from_ca_cert_pem(&ca_pem, key).map_err(|e| PkiError::Malformed {
                    path: cert_path.clone(),
                    reason: e.to_string(),
                })?;
            return Ok((Pki { ca_pem, issuer }, false));
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, ca_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        // The CA outlives the appliance's hardware; its key never leaves it.
        params.not_after = now + Duration::days(365 * 30);
        params.serial_number = Some(random_serial());
        let cert = params.self_signed(&key)?;
        fs::create_dir_all(dir).map_err(|source| PkiError::Io {
            path: dir.to_owned(),
            source,
        })?;
        write_private(&key_path, &key.serialize_pem())?;
        write_private(&cert_path, &cert.pem())?;
        let ca_pem = cert.pem();
        Ok((
            Pki {
                ca_pem,
                issuer: Issuer::new(params, key),
            },
            true,
        ))
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn issue_server(&self, names: &[String]) -> Result<CertifiedKey, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_else(|| "minutierd".into()),
        );
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => n.clone().try_into().map(SanType::DnsName),
            })
            .collect::<Result<_, _>>()?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(825);
        params.serial_number = Some(random_serial());
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(CertifiedKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A client certificate for `subject`, valid from now for `validity`.
    pub fn issue_client(
        &self,
        subject: &Subject,
        validity: Duration,
    ) -> Result<IssuedCertificate, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, subject.name.as_str());
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, subject.role.as_str());
        if let Some(agency) = &subject.agency {
            params
                .distinguished_name
                .push(DnType::OrganizationName, agency.as_str());
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::minutes(5);
        params.not_after = now + validity;
        let serial = random_serial();
        let serial_hex = hex::encode(serial.to_bytes());
        params.serial_number = Some(serial);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCertificate {
            certified: CertifiedKey {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            },
            serial: serial_hex,
            not_after: params.not_after,
        })
    }
}

/// 128 random bits, positive (top bit clear, as DER integers are signed).
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes a secret (or a file only the daemon's user should read), 0600,
/// replacing any previous content atomically.
pub fn write_private(path: &Path, text: &str) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

/// Reads the holder's identity from a client certificate (DER).
pub fn subject_of(cert_der: &[u8]) -> Result<(Subject, String, i64), String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| format!("unreadable certificate: {e}"))?;
    let subject = cert.subject();
    let first = |attrs: Option<&x509_parser::x509::AttributeTypeAndValue<'_>>| {
        attrs.and_then(|a| a.as_str().ok()).map(str::to_owned)
    };
    let name = first(subject.iter_common_name().next())
        .ok_or("the certificate has no common name (CN)")?;
    let role = first(subject.iter_organizational_unit().next())
        .ok_or("the certificate names no role (OU)")?;
    let agency = first(subject.iter_organization().next());
    let serial = hex::encode(cert.raw_serial());
    let not_after = cert.validity().not_after.timestamp();
    Ok((Subject { name, role, agency }, serial, not_after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reopened_ca_issues_certificates_its_subjects_can_be_read_from() {
        let dir = tempfile::tempdir().unwrap();
        let (pki, created) = Pki::open_or_create(dir.path(), "Minutier test CA").unwrap();
        assert!(created);
        let (again, created) = Pki::open_or_create(dir.path(), "Minutier test CA").unwrap();
        assert!(!created);
        assert_eq!(pki.ca_pem(), again.ca_pem());
        let subject = Subject {
            name: "Marie Dupont".into(),
            role: "dms".into(),
            agency: Some("MAIRIE-EXEMPLE".into()),
        };
        let issued = again.issue_client(&subject, Duration::days(1)).unwrap();
        let der =
            rustls_pki_types::pem::PemObject::from_pem_slice(issued.certified.cert_pem.as_bytes())
                .map(|c: rustls_pki_types::CertificateDer<'static>| c)
                .unwrap();
        let (read, serial, _) = subject_of(&der).unwrap();
        assert_eq!(read, subject);
        assert_eq!(serial, issued.serial);
        let server = pki
            .issue_server(&["localhost".into(), "127.0.0.1".into()])
            .unwrap();
        assert!(server.cert_pem.contains("BEGIN CERTIFICATE"));
    }
}
