//! Prints every cardinal word form of numbers in a language, one line per
//! rule set: `cargo run -p emma-numbers --example spell_out -- de 25 1999 -3 2.5`.

use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let lang = args.next().ok_or("usage: spell_out LANG NUMBER...")?;
    let speller = emma_numbers::Speller::for_language(&lang)?;
    let mut out = std::io::stdout().lock();
    for number in args {
        for set in speller.cardinal_rulesets() {
            match speller.format_decimal(&number, set) {
                Ok(text) => writeln!(out, "{number}\t{set}\t{text}")?,
                Err(e) => writeln!(out, "{number}\t{set}\terror: {e}")?,
            }
        }
    }
    Ok(())
}
