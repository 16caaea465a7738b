#!/usr/bin/env bash
# Resolve the pinned Apache Kafka broker jars from Maven Central into infra/.cache/kafka-<version>/libs.
# Idempotent: a stamp file (holding the pom's hash) makes re-runs instant; a changed pom re-resolves.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/pom.xml"
cache_root="$(cd "$here/.." && pwd)/.cache"

fail() { echo "kafka-jars: $*" >&2; exit 1; }

version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom" | head -n1)"
[[ -n "$version" ]] || fail "no <kafka.version> in $pom"
dest="$cache_root/kafka-$version"
libs="$dest/libs"
stamp="$dest/.stamp"
pom_hash="$(sha256sum "$pom" | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$pom_hash" ]] && compgen -G "$libs/kafka_2.13-$version.jar" >/dev/null; then
  exit 0  # already resolved for this exact pom
fi

command -v java >/dev/null || fail "java not found: Apache Kafka $version needs a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)"
# `java -version` prints e.g. 'openjdk version "17.0.15"' or '"1.8.0_392"' on stderr.
java_version="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
java_major="${java_version%%.*}"
[[ "$java_major" == "1" ]] && java_major="$(echo "$java_version" | cut -d. -f2)"
[[ "$java_major" =~ ^[0-9]+$ ]] || fail "could not read the Java version from 'java -version' (got '$java_version')"
(( java_major >= 17 )) || fail "Java $java_version found, Apache Kafka $version needs Java 17 or newer"

command -v mvn >/dev/null || fail "mvn not found: install Apache Maven (e.g. apt-get install maven) to fetch the Kafka jars"

echo "kafka-jars: resolving org.apache.kafka:kafka_2.13:$version from Maven Central into $libs"
tmp="$dest/libs.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp"
compgen -G "$tmp/kafka_2.13-$version.jar" >/dev/null || fail "maven finished but kafka_2.13-$version.jar is missing"
rm -rf "$libs"
mv "$tmp" "$libs"
echo "$pom_hash" >"$stamp"
echo "kafka-jars: $(ls "$libs" | wc -l) jars ready in $libs"
