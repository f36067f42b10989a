#!/usr/bin/env bash
# Build (with Maven, once per kafka-clients version) and run the Java client interop test
# against RN_BOOTSTRAP. KAFKA_CLIENTS_VERSION picks the kafka-clients release (default 4.1.1).
set -euo pipefail
cd "$(dirname "$0")"
V=${KAFKA_CLIENTS_VERSION:-4.1.1}
OUT=target/$V
if [ ! -f "$OUT/.built" ] || [ src/main/java/dev/runnel/interop/InteropTest.java -nt "$OUT/.built" ]; then
  rm -rf "$OUT"
  # Maven only fetches the jars; one source file compiles with plain javac.
  mvn -B -q -Dkafka.clients.version="$V" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$OUT/lib" >&2
  mkdir -p "$OUT/classes"
  javac -d "$OUT/classes" -cp "$OUT/lib/*" src/main/java/dev/runnel/interop/InteropTest.java
  touch "$OUT/.built"
fi
exec java -cp "$OUT/classes:$OUT/lib/*" dev.runnel.interop.InteropTest
