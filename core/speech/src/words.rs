//! Comparing two transcripts word by word.

/// The longest common subsequence of the words `a` and `b`, as a share of the
/// longer of the two (0 when either is empty): 1 when they are the same
/// words, lower for every word missing, extra or changed.
pub fn word_share(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let mut prev = vec![0usize; b.len() + 1];
    for x in a {
        let mut cur = vec![0usize; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        prev = cur;
    }
    prev[b.len()] as f64 / a.len().max(b.len()) as f64
}
