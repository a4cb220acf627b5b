#!/usr/bin/env bash
# Builds Emma.xcframework (iOS device + simulator + macOS) with the Swift sources
# for an Xcode project or a Swift package. Run on macOS with Xcode and rustup;
# NOT exercised by this repository's tests (no Swift toolchain on the CI machine).
#
#   bindings/scripts/build-xcframework.sh            # release build into bindings/out/apple
#   PROFILE=debug bindings/scripts/build-xcframework.sh
#
# The native speech engines (libvosk, PocketSphinx) are not available for iOS;
# the library is built without them (text, intents, skills and devices work;
# `processAudio` reports that no speech engine is built in).
set -euo pipefail

cd "$(dirname "$0")/../.."
PROFILE="${PROFILE:-release}"
OUT="bindings/out/apple"
TARGETS=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin)
[ "$(uname)" = Darwin ] || { echo "build-xcframework: run this on macOS (needs Xcode's xcodebuild and lipo)" >&2; exit 1; }

rustup target add "${TARGETS[@]}" >/dev/null
profile_flag=(); [ "$PROFILE" = release ] && profile_flag=(--release)
for t in "${TARGETS[@]}"; do
  cargo rustc -p emma-bindings --lib --crate-type staticlib --no-default-features --target "$t" "${profile_flag[@]}"
done

rm -rf "$OUT" && mkdir -p "$OUT/headers" "$OUT/swift"
# Swift sources, header and an XCFramework-style modulemap from the host build of the library.
cargo build -p emma-bindings --lib --bin uniffi-bindgen --no-default-features "${profile_flag[@]}"
lib="target/$PROFILE/libemma_bindings.dylib"
cargo run -q -p emma-bindings --bin uniffi-bindgen --no-default-features "${profile_flag[@]}" -- \
  generate --library "$lib" --language swift --out-dir "$OUT/gen"
mv "$OUT/gen/"*.swift "$OUT/swift/"
mv "$OUT/gen/EmmaFFI.h" "$OUT/headers/"
sed 's/^module /framework module /' "$OUT/gen/EmmaFFI.modulemap" > "$OUT/headers/module.modulemap"
rm -rf "$OUT/gen"

a() { echo "target/$1/$PROFILE/libemma_bindings.a"; }
mkdir -p "$OUT/ios-sim" "$OUT/macos"
lipo -create "$(a aarch64-apple-ios-sim)" "$(a x86_64-apple-ios)" -output "$OUT/ios-sim/libemma_bindings.a"
lipo -create "$(a aarch64-apple-darwin)" "$(a x86_64-apple-darwin)" -output "$OUT/macos/libemma_bindings.a"

xcodebuild -create-xcframework \
  -library "$(a aarch64-apple-ios)" -headers "$OUT/headers" \
  -library "$OUT/ios-sim/libemma_bindings.a" -headers "$OUT/headers" \
  -library "$OUT/macos/libemma_bindings.a" -headers "$OUT/headers" \
  -output "$OUT/EmmaFFI.xcframework"
echo "built $OUT/EmmaFFI.xcframework and $OUT/swift/emma.swift"
