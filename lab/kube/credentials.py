"""The server's TLS material (its own CA and a certificate for the loopback address) and the kubeconfig."""

import base64
import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)
SKEW = datetime.timedelta(days=1)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'proxqa lab'),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_private(path, data):
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'wb') as out:
        out.write(data)


def make_tls(directory, host, name):
    """Write <name>-ca.crt, <name>-server.crt and <name>-server.key into directory.

    Returns (CA certificate PEM, server certificate path, server key path).
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name('{0} kube CA'.format(name))
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - SKEW).not_valid_after(now + VALIDITY)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName('localhost'), x509.IPAddress(ipaddress.ip_address(host))]
    cert = (x509.CertificateBuilder().subject_name(_name(host)).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - SKEW).not_valid_after(now + VALIDITY)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    cert_path = os.path.join(directory, name + '-server.crt')
    key_path = os.path.join(directory, name + '-server.key')
    with open(os.path.join(directory, name + '-ca.crt'), 'wb') as out:
        out.write(ca_pem)
    with open(cert_path, 'wb') as out:
        out.write(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return ca_pem, cert_path, key_path


def kubeconfig_text(name, url, ca_pem, token, namespace='default'):
    """A kubeconfig with one cluster, user and context, all called after name (the token is its secret)."""
    ca_data = base64.b64encode(ca_pem).decode()
    return ('apiVersion: v1\n'
            'kind: Config\n'
            'clusters:\n'
            '- name: "{name}"\n'
            '  cluster:\n'
            '    server: "{url}"\n'
            '    certificate-authority-data: "{ca}"\n'
            'users:\n'
            '- name: "{name}-admin"\n'
            '  user:\n'
            '    token: "{token}"\n'
            'contexts:\n'
            '- name: "{name}"\n'
            '  context:\n'
            '    cluster: "{name}"\n'
            '    user: "{name}-admin"\n'
            '    namespace: "{namespace}"\n'
            'current-context: "{name}"\n').format(name=name, url=url, ca=ca_data, token=token, namespace=namespace)


def write_kubeconfig(path, text):
    _write_private(path, text.encode())
