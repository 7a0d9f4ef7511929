"""The lab CA and the three server certificates the twin can serve: valid, expired, and self-signed."""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAY = datetime.timedelta(days=1)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'proxqa lab'),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class LabTls(object):
    """Makes the CA and the certificates for `host` into `directory` (keep it private: it holds keys)."""

    def __init__(self, directory, host):
        self.directory = directory
        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_cert = (x509.CertificateBuilder()
                        .subject_name(_name('proxqa lab CA')).issuer_name(_name('proxqa lab CA'))
                        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                        .not_valid_before(now - DAY).not_valid_after(now + 3650 * DAY)
                        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                     key_encipherment=False, data_encipherment=False,
                                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                     encipher_only=False, decipher_only=False), critical=True)
                        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                                       critical=False)
                        .sign(ca_key, hashes.SHA256()))
        self.ca_pem = self.ca_cert.public_bytes(serialization.Encoding.PEM)
        self.certs = {
            'valid': self._server_cert(host, ca_key, now - DAY, now + 365 * DAY),
            'expired': self._server_cert(host, ca_key, now - 90 * DAY, now - DAY),
            'untrusted': self._server_cert(host, None, now - DAY, now + 365 * DAY),
        }

    def _server_cert(self, host, ca_key, not_before, not_after):
        """A server certificate for host, signed by the CA (or by itself when ca_key is None).

        Returns the x509 certificate; its PEM and its key are written into the directory (see files()).
        """
        key = ec.generate_private_key(ec.SECP256R1())
        names = [x509.DNSName('localhost'), x509.IPAddress(ipaddress.ip_address(host))]
        subject = _name(host)
        builder = (x509.CertificateBuilder()
                   .subject_name(subject).issuer_name(self.ca_cert.subject if ca_key else subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.SubjectAlternativeName(names), critical=False)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
        if ca_key:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        cert = builder.sign(ca_key or key, hashes.SHA256())
        certfile, keyfile = self._paths(cert)
        with open(certfile, 'wb') as out:
            out.write(cert.public_bytes(serialization.Encoding.PEM))
        with os.fdopen(os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), 'wb') as out:
            out.write(_pem_key(key))
        return cert

    def _paths(self, cert):
        base = os.path.join(self.directory, '{0:x}'.format(cert.serial_number))
        return base + '.crt', base + '.key'

    def files(self, kind):
        """(certfile, keyfile) of the certificate of that kind: valid, expired or untrusted."""
        return self._paths(self.certs[kind])

    def fingerprint(self):
        """The valid certificate's SHA-256 fingerprint as PVE shows it (upper-case hex pairs, colons)."""
        return ':'.join('{0:02X}'.format(b) for b in self.certs['valid'].fingerprint(hashes.SHA256()))
