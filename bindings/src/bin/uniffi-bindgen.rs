//! uniffi's binding generator, built from this workspace so no extra download is needed:
//! `uniffi-bindgen generate --library target/debug/libemma_bindings.so --language kotlin --out-dir OUT`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
