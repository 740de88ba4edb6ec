//! Sequential orders of concurrent histories, for the loom models'
//! linearizability checks: a concurrent run is correct if some order of its
//! operations that keeps each thread's program order, replayed on a fresh
//! limiter, gives the answers the threads saw.

/// Every merge of the threads' `histories` that keeps each thread's order
/// (for histories of lengths `a, b, ...`, `(a + b + ...)! / (a! b! ...)` of
/// them: meant for the few short histories of a loom model).
pub fn interleavings<T: Clone>(histories: &[Vec<T>]) -> Vec<Vec<T>> {
    fn extend<T: Clone>(
        histories: &[Vec<T>],
        next: &mut [usize],
        prefix: &mut Vec<T>,
        out: &mut Vec<Vec<T>>,
    ) {
        let mut any = false;
        for (thread, history) in histories.iter().enumerate() {
            if let Some(record) = history.get(next[thread]) {
                any = true;
                prefix.push(record.clone());
                next[thread] += 1;
                extend(histories, next, prefix, out);
                next[thread] -= 1;
                prefix.pop();
            }
        }
        if !any {
            out.push(prefix.clone());
        }
    }
    let mut out = Vec::new();
    extend(
        histories,
        &mut vec![0; histories.len()],
        &mut Vec::new(),
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::interleavings;

    #[test]
    fn every_order_that_keeps_each_thread_s_order() {
        let orders = interleavings(&[vec![1, 2], vec![3]]);
        assert_eq!(orders, [vec![1, 2, 3], vec![1, 3, 2], vec![3, 1, 2]]);
        assert_eq!(interleavings::<u8>(&[]), [Vec::<u8>::new()]);
    }
}
