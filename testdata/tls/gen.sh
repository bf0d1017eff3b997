#!/bin/sh
# Regenerates the TLS test material in this directory. See README.md.
set -eu
cd "$(dirname "$0")"
DAYS=36500

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# Test CA.
key ca.key
openssl req -x509 -new -key ca.key -sha256 -days $DAYS -subj "/O=dmonitor test/CN=dmonitor test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" -out ca.crt

# Server certificate (also usable as a client certificate between dmonitor peers).
key server.key
openssl req -new -key server.key -subj "/O=dmonitor test/CN=localhost" -out server.csr
cat > server.ext <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,IP:127.0.0.4,IP:127.0.0.5,IP:127.0.0.6,IP:127.0.0.7,IP:127.0.0.8,IP:127.0.0.9,IP:::1,DNS:localhost
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days $DAYS \
  -extfile server.ext -out server.crt

# Client certificate signed by the test CA.
key client.key
openssl req -new -key client.key -subj "/O=dmonitor test/CN=dmonitor test client" -out client.csr
cat > client.ext <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days $DAYS \
  -extfile client.ext -out client.crt

# A foreign CA and a client certificate it signed: must be rejected wherever ca.crt is required.
key foreign-ca.key
openssl req -x509 -new -key foreign-ca.key -sha256 -days $DAYS \
  -subj "/O=somebody else/CN=foreign test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" -out foreign-ca.crt
key foreign-client.key
openssl req -new -key foreign-client.key -subj "/O=somebody else/CN=foreign test client" \
  -out foreign-client.csr
openssl x509 -req -in foreign-client.csr -CA foreign-ca.crt -CAkey foreign-ca.key -CAcreateserial \
  -sha256 -days $DAYS -extfile client.ext -out foreign-client.crt

rm -f ./*.csr ./*.ext ./*.srl
chmod 644 ./*.key ./*.crt
