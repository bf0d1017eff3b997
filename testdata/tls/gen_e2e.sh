#!/bin/sh
# The end-to-end tests' server certificate (e2e.crt, e2e.key), signed by the test CA in ca.key:
# like server.crt, but for the loopback blocks the test files own (tests/README.md):
# 127.0.100.1 ... 127.0.119.9 (the first nine addresses of each block) and, as server.crt,
# 127.0.0.1 ... 127.0.0.9 (the benchmarks share the helpers). Leaves every other file alone.
set -eu
cd "$(dirname "$0")"
DAYS=36500
san=""
b=100
while [ $b -le 119 ]; do
  i=1
  while [ $i -le 9 ]; do
    san="${san}IP:127.0.$b.$i,"
    i=$((i + 1))
  done
  b=$((b + 1))
done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out e2e.key
openssl req -new -key e2e.key -subj "/O=dmonitor test/CN=dmonitor e2e" -out e2e.csr
cat > e2e.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=${san}IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,IP:127.0.0.4,IP:127.0.0.5,IP:127.0.0.6,IP:127.0.0.7,IP:127.0.0.8,IP:127.0.0.9
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
openssl x509 -req -in e2e.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days $DAYS \
  -extfile e2e.ext -out e2e.crt
rm -f e2e.csr e2e.ext ca.srl
chmod 644 e2e.key e2e.crt
