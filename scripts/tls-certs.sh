#!/usr/bin/env bash
# Make a self-signed CA and certificates for runneld's SSL listeners and their clients, with
# the openssl command. For trying TLS out and for tests; a production CA keeps its key offline.
#
#   scripts/tls-certs.sh ca DIR                      DIR/ca.pem, DIR/ca.key (valid 825 days)
#   scripts/tls-certs.sh server DIR NAME HOST...     DIR/NAME.pem: certificate, CA, key, for
#                                                    the host names and IP addresses given
#   scripts/tls-certs.sh client DIR NAME SUBJECT     DIR/NAME.pem with subject SUBJECT
#                                                    ("/O=acme/OU=eng/CN=alice": principal
#                                                    User:CN=alice,OU=eng,O=acme)
#
# Each NAME.pem holds the certificate, the CA's and the private key (unencrypted PKCS#8): what
# ssl.keystore.location takes, and what Java clients take with ssl.keystore.type=PEM.
set -euo pipefail
days=825
what=${1:-}
dir=${2:-}
[ -n "$what" ] && [ -n "$dir" ] || { sed -n '4,9p' "$0" >&2; exit 2; }
mkdir -p "$dir"
case "$what" in
  ca)
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" -subj "/CN=runnel CA" \
      -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
    chmod 600 "$dir/ca.key"
    echo "$dir/ca.pem (trust store) and $dir/ca.key" ;;
  server|client)
    name=${3:?name}
    shift 3
    if [ "$what" = server ]; then
      subject="/CN=${1:?a host name}"
      san=""
      for h in "$@"; do
        if [[ "$h" =~ ^[0-9.]+$ || "$h" == *:* ]]; then san+="IP:$h,"; else san+="DNS:$h,"; fi
      done
      ext="subjectAltName=${san%,}"$'\n'"extendedKeyUsage=serverAuth,clientAuth"
    else
      subject=${1:?a subject such as /O=acme/CN=alice}
      ext="extendedKeyUsage=clientAuth"
    fi
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "$subject" -keyout "$tmp/key.pem" \
      -out "$tmp/req.csr" 2>/dev/null
    printf '%s\n' "$ext" >"$tmp/ext"
    openssl x509 -req -sha256 -days "$days" -in "$tmp/req.csr" -CA "$dir/ca.pem" \
      -CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 8)" -extfile "$tmp/ext" \
      -out "$tmp/cert.pem" 2>/dev/null
    cat "$tmp/cert.pem" "$dir/ca.pem" "$tmp/key.pem" >"$dir/$name.pem"
    chmod 600 "$dir/$name.pem"
    echo "$dir/$name.pem" ;;
  *) sed -n '4,9p' "$0" >&2; exit 2 ;;
esac
