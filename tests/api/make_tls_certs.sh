#!/bin/sh
# Throwaway TLS material for the https hub tests: make_tls_certs.sh DIR writes
#   DIR/ca.pem               a test CA (trust it with SSKAI_CA_BUNDLE / ClientOptions::ca_file)
#   DIR/server.{pem,key}     signed by it, for localhost and 127.0.0.1
#   DIR/wrong.{pem,key}      signed by it, for wrong.example only (a host name mismatch)
# EC P-256 keys, valid for 2 days.
set -eu
D=$1
mkdir -p "$D"
cd "$D"
EC="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $EC -days 2 -subj /CN=sskai-test-ca -keyout ca.key -out ca.pem \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
leaf() {  # leaf NAME SAN
  openssl req $EC -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$2" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
leaf server DNS:localhost,IP:127.0.0.1
leaf wrong DNS:wrong.example
