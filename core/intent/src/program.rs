//! The compiled form of templates and the matcher that runs it.
//!
//! Templates compile once into [`Node`] trees over lower-cased characters:
//! literal words, word gaps, alternatives, rule references (shared, not
//! copied) and list references (resolved at match time, so lists can change
//! without recompiling). The matcher walks a tree with an explicit
//! continuation stack, enumerating matches in hassil's order (alternatives in
//! template order, optional parts tried before skipping them, list values in
//! list order, shorter wildcards first) so ties resolve as hassil resolves them.

use std::sync::Arc;

use crate::lists::{RangeList, SlotList, TextList, TextValue};
use crate::text::Input;

/// A compiled template node.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// Literal characters (lower case, no spaces); `score` is hassil's
    /// `text_chunks_matched` contribution.
    Lit { chars: Box<[char]>, score: u32 },
    /// A word gap: a whitespace run in the text, or nothing at a word start.
    Space,
    /// Parts in order.
    Seq(Box<[Node]>),
    /// One of the parts, in order, with the characters each can start with
    /// (see [`annotate`]).
    Alt(Box<[Node]>, Firsts),
    /// A slot list. `follow`: the characters what follows it in its sequence
    /// can start with (after the word gap), when the sequence says (see
    /// [`annotate`]); the matcher ends a value only where one of them is ahead.
    List {
        list: ListRef,
        slot: u32,
        follow: Option<Box<[char]>>,
    },
    /// An expansion rule in the current rule table.
    Rule(u32),
}

/// Per choice of an alternative: the characters a match of it can start
/// with, after the whitespace before it (`None`: any character, or it can
/// match nothing); `None` for the whole alternative when no choice is
/// restricted. The matcher skips a choice whose set lacks the character
/// ahead without entering it.
pub(crate) type Firsts = Option<Box<[Option<FirstSet>]>>;

/// A choice's start characters, with a 64-bit summary (bit `c % 64` for each
/// character) that rules most choices out in one test before the list is
/// searched.
#[derive(Debug, Clone)]
pub(crate) struct FirstSet {
    mask: u64,
    chars: Box<[char]>,
}

impl FirstSet {
    fn new(chars: Vec<char>) -> Self {
        FirstSet {
            mask: chars.iter().fold(0, |m, &c| m | first_bit(c)),
            chars: chars.into(),
        }
    }
}

/// The bit of `c` in a [`FirstSet`]'s summary.
#[inline]
fn first_bit(c: char) -> u64 {
    1 << (c as u32 % 64)
}

/// Which list a reference means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListRef {
    /// An engine-wide list by name id (replaceable with `set_list`).
    Global(u32),
    /// A list local to one data block (index in the local arena).
    Local(u32),
}

/// A matched slot.
#[derive(Debug, Clone)]
pub(crate) struct Entity<'a> {
    pub slot: u32,
    pub value: EValue<'a>,
    pub start: usize,
    pub end: usize,
    pub wildcard: bool,
}

/// The value of a matched slot.
#[derive(Debug, Clone)]
pub(crate) enum EValue<'a> {
    /// The text as spoken.
    Spoken,
    /// A list value: its `out` (the text as spoken when it has none) and context.
    Value(&'a TextValue),
    /// A number.
    Num(f64),
}

/// What the matcher carries along one path.
#[derive(Debug, Default)]
pub(crate) struct State<'a> {
    pub entities: Vec<Entity<'a>>,
    pub context: Vec<(&'a str, &'a str)>,
    pub score: u32,
}

/// Everything a match needs to resolve references.
pub(crate) struct Tables<'a> {
    pub rules: &'a [Node],
    pub globals: &'a [Option<Arc<SlotList>>],
    pub locals: &'a [SlotList],
    pub requires: &'a [(String, crate::engine::CtxReq)],
    pub excludes: &'a [(String, crate::engine::CtxReq)],
}

enum Cont<'a, 'c> {
    Done,
    Seq {
        items: &'a [Node],
        next: &'c Cont<'a, 'c>,
    },
    ListEnd {
        slot: u32,
        start: usize,
        value: &'a TextValue,
        saved: u32,
        sow: bool,
        next: &'c Cont<'a, 'c>,
    },
}

/// Upper bound on matcher steps per template, against pathological templates.
pub(crate) const MAX_STEPS: u32 = 200_000;

/// Runs templates against one input, calling `sink` for each full match with
/// the `tag` of the template being run (one matcher serves every template of
/// a sentence, so its buffers are allocated once).
pub(crate) struct Matcher<'a, 's> {
    pub tables: Tables<'a>,
    pub input: &'s Input,
    pub state: State<'a>,
    pub steps: u32,
    pub sink: &'s mut dyn FnMut(&State<'a>, u32),
    /// The caller's tag for the template being run.
    pub tag: u32,
    /// Spare hit buffers (list lookups nest, so one per depth).
    pool: Vec<Vec<(u32, usize)>>,
    /// The `follow` set of the list being matched (read before anything nests).
    follow: Option<&'a [char]>,
}

/// A matcher's buffers between sentences (see [`Matcher::with_buffers`]).
#[derive(Default)]
pub(crate) struct MatcherBufs {
    entities: Vec<Entity<'static>>,
    context: Vec<(&'static str, &'static str)>,
    pool: Vec<Vec<(u32, usize)>>,
}

/// An empty vector with `v`'s allocation, for elements that borrow for
/// another lifetime (buffers kept between sentences outlive the borrows of
/// one sentence; std collects a map over `into_iter` in place). Always
/// inlined: as a call, the in-place collect's loop over the (empty) vector
/// stays, ~150 instructions per sentence for the five buffers.
#[inline(always)]
pub(crate) fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

impl<'a, 's> Matcher<'a, 's> {
    /// A matcher reusing `bufs`' allocations (give them back with
    /// [`Matcher::into_buffers`]).
    pub fn with_buffers(
        tables: Tables<'a>,
        input: &'s Input,
        sink: &'s mut dyn FnMut(&State<'a>, u32),
        bufs: MatcherBufs,
    ) -> Self {
        Self {
            tables,
            input,
            state: State {
                entities: recycle(bufs.entities),
                context: recycle(bufs.context),
                score: 0,
            },
            steps: 0,
            sink,
            tag: 0,
            pool: bufs.pool,
            follow: None,
        }
    }

    /// The buffers, for the next sentence's matcher.
    pub fn into_buffers(self) -> MatcherBufs {
        MatcherBufs {
            entities: recycle(self.state.entities),
            context: recycle(self.state.context),
            pool: self.pool,
        }
    }

    /// Enumerates all matches of `node` covering the whole input.
    pub fn run(&mut self, node: &'a Node) {
        self.state.entities.clear();
        self.state.context.clear();
        self.state.score = 0;
        self.steps = 0;
        match node {
            // A template is mostly a sequence: its step counted, straight
            // to `seq` (as `node` would go).
            Node::Seq(items) => {
                self.steps += 1;
                self.seq(items, &Cont::Done, 0, true);
            }
            _ => self.node(node, &Cont::Done, 0, true),
        }
    }

    /// A word gap. `sow` ("start of word", as hassil tracks it) lets the gap
    /// be empty after a gap or at the start.
    fn space(&self, pos: usize, sow: bool) -> Option<usize> {
        let low = &self.input.low;
        // The input's word gaps are single spaces (see `Input`).
        let p = pos + usize::from(low.get(pos) == Some(&' '));
        if p > pos || sow || pos == low.len() {
            return Some(p);
        }
        if low[pos] == '-' || low[pos] == '_' {
            return Some(pos + 1);
        }
        None
    }

    fn cont(&mut self, k: &Cont<'a, '_>, pos: usize, sow: bool) {
        match k {
            Cont::Done => {
                let low = &self.input.low;
                // Nothing but spaces left: the input has none at its end.
                if pos == low.len() {
                    (self.sink)(&self.state, self.tag);
                }
            }
            Cont::Seq { items, next } => self.seq(items, next, pos, sow),
            Cont::ListEnd {
                slot,
                start,
                value,
                saved,
                sow: list_sow,
                next,
            } => {
                let score = self.state.score;
                self.state.score = *saved;
                self.push_value(*slot, *start, pos, value);
                self.cont(next, pos, *list_sow);
                self.pop_value(value);
                self.state.score = score;
            }
        }
    }

    fn seq(&mut self, items: &'a [Node], k: &Cont<'a, '_>, pos: usize, sow: bool) {
        // Literals and word gaps match at most one way: they are followed
        // here in a loop (each counted as a step, as `node` counts it, and
        // its score added until the rest returns) instead of a `node` call,
        // a continuation and a `cont` call each. Wrappers are looked through
        // in the loop too (a step each, as `node` counts them): a rule
        // reference, a one-part sequence, a sequence at the end (its parts
        // become the rest), and an alternative's last choice that can start
        // here (the others are run first, as `node` runs them in order) —
        // for an optional part (`[…]`), its empty choice.
        let (mut items, mut pos, mut sow) = (items, pos, sow);
        let mut added = 0;
        'items: loop {
            let Some((mut first, rest)) = items.split_first() else {
                self.cont(k, pos, sow);
                break;
            };
            loop {
                self.steps += 1;
                if self.steps > MAX_STEPS {
                    break 'items;
                }
                match first {
                    Node::Lit { chars, score } => {
                        let at = if sow { self.skip_ws(pos) } else { pos };
                        let low = &self.input.low;
                        if low
                            .get(at..at + chars.len())
                            .is_none_or(|ahead| ahead != &chars[..])
                        {
                            break 'items;
                        }
                        self.state.score += score;
                        added += score;
                        (pos, sow) = (at + chars.len(), false);
                        break;
                    }
                    Node::Space => {
                        let Some(p) = self.space(pos, sow) else {
                            break 'items;
                        };
                        (pos, sow) = (p, true);
                        break;
                    }
                    Node::Rule(i) => {
                        let rules = self.tables.rules;
                        first = &rules[*i as usize];
                    }
                    Node::Seq(inner) => match inner.len() {
                        0 => break,
                        1 => first = &inner[0],
                        _ if rest.is_empty() => {
                            items = inner;
                            continue 'items;
                        }
                        _ => {
                            let k2 = Cont::Seq {
                                items: rest,
                                next: k,
                            };
                            self.seq(inner, &k2, pos, sow);
                            break 'items;
                        }
                    },
                    Node::Alt(choices, firsts) => {
                        let k2 = Cont::Seq {
                            items: rest,
                            next: k,
                        };
                        let kk = if rest.is_empty() { k } else { &k2 };
                        // Each choice that can start here is run once the
                        // next one is found; the last is followed here.
                        let mut pending: Option<&'a Node> = None;
                        match firsts {
                            None => {
                                for choice in choices.iter() {
                                    if let Some(p) = pending.replace(choice) {
                                        self.node(p, kk, pos, sow);
                                    }
                                }
                            }
                            Some(firsts) => {
                                let ahead = self.input.low.get(self.skip_ws(pos)).copied();
                                // No bit at the input's end: every restricted choice is skipped.
                                let bit = ahead.map_or(0, first_bit);
                                for (choice, f) in choices.iter().zip(firsts.iter()) {
                                    if f.as_ref().is_none_or(|f| opens(f, ahead, bit))
                                        && let Some(p) = pending.replace(choice)
                                    {
                                        self.node(p, kk, pos, sow);
                                    }
                                }
                            }
                        }
                        let Some(last) = pending else {
                            break 'items;
                        };
                        first = last;
                    }
                    Node::List { list, slot, follow } => {
                        if rest.is_empty() {
                            self.list(*list, *slot, follow.as_deref(), k, pos, sow);
                        } else {
                            let k2 = Cont::Seq {
                                items: rest,
                                next: k,
                            };
                            self.list(*list, *slot, follow.as_deref(), &k2, pos, sow);
                        }
                        break 'items;
                    }
                }
            }
            items = rest;
        }
        self.state.score -= added;
    }

    fn push_value(&mut self, slot: u32, start: usize, end: usize, value: &'a TextValue) {
        self.state.entities.push(Entity {
            slot,
            value: if value.out.is_some() || !value.context.is_empty() {
                EValue::Value(value)
            } else {
                EValue::Spoken
            },
            start,
            end,
            wildcard: false,
        });
        for (k, v) in value.context.iter() {
            self.state.context.push((k, v));
        }
    }

    fn pop_value(&mut self, value: &TextValue) {
        self.state.entities.pop();
        let n = self.state.context.len() - value.context.len();
        self.state.context.truncate(n);
    }

    fn node(&mut self, node: &'a Node, k: &Cont<'a, '_>, pos: usize, sow: bool) {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return;
        }
        match node {
            Node::Lit { chars, score } => {
                let pos = if sow { self.skip_ws(pos) } else { pos };
                let low = &self.input.low;
                if low
                    .get(pos..pos + chars.len())
                    .is_some_and(|ahead| ahead == &chars[..])
                {
                    self.state.score += score;
                    self.cont(k, pos + chars.len(), false);
                    self.state.score -= score;
                }
            }
            Node::Space => {
                if let Some(p) = self.space(pos, sow) {
                    self.cont(k, p, true);
                }
            }
            Node::Seq(items) => self.seq(items, k, pos, sow),
            Node::Alt(items, firsts) => self.choices(items, firsts.as_deref(), k, pos, sow),
            Node::Rule(i) => {
                let rules = self.tables.rules;
                self.node(&rules[*i as usize], k, pos, sow);
            }
            Node::List { list, slot, follow } => {
                self.list(*list, *slot, follow.as_deref(), k, pos, sow)
            }
        }
    }

    /// A list reference (its step counted by the caller), with the start
    /// characters of what follows it (`follow`, see [`Node::List`]).
    fn list(
        &mut self,
        list: ListRef,
        slot: u32,
        follow: Option<&'a [char]>,
        k: &Cont<'a, '_>,
        pos: usize,
        sow: bool,
    ) {
        self.follow = follow;
        let list: &'a SlotList = match list {
            ListRef::Global(i) => match self.tables.globals.get(i as usize) {
                Some(Some(l)) => l,
                _ => return,
            },
            ListRef::Local(i) => &self.tables.locals[i as usize],
        };
        if pos >= self.input.len() {
            return;
        }
        match list {
            SlotList::Text(t) => {
                let pos = if sow { self.skip_ws(pos) } else { pos };
                self.text_list(t, slot, k, pos, sow)
            }
            SlotList::Range(r) => self.range_list(r, slot, k, pos, sow),
            SlotList::Wildcard => self.wildcard(slot, k, pos),
        }
    }

    /// Runs the choices of an alternative in order, skipping those whose
    /// start set (`firsts`, one per choice) lacks the character ahead.
    fn choices(
        &mut self,
        items: &'a [Node],
        firsts: Option<&[Option<FirstSet>]>,
        k: &Cont<'a, '_>,
        pos: usize,
        sow: bool,
    ) {
        let Some(firsts) = firsts else {
            for item in items {
                self.node(item, k, pos, sow);
            }
            return;
        };
        let ahead = self.input.low.get(self.skip_ws(pos)).copied();
        // No bit at the input's end: every restricted choice is skipped.
        let bit = ahead.map_or(0, first_bit);
        for (item, first) in items.iter().zip(firsts.iter()) {
            if first.as_ref().is_none_or(|f| opens(f, ahead, bit)) {
                self.node(item, k, pos, sow);
            }
        }
    }

    fn value_allowed(&self, value: &TextValue) -> bool {
        if value.context.is_empty() {
            return true;
        }
        let ctx = &value.context;
        let get = |key: &str| -> Option<&str> { ctx.get(key) };
        crate::engine::check_required(self.tables.requires, &get, true)
            && crate::engine::check_excluded(self.tables.excludes, &get)
    }

    /// True when the character ahead of `pos` (after whitespace) can start
    /// what follows a list (`follow`: `None` is anything).
    fn followed(&self, follow: Option<&[char]>, pos: usize) -> bool {
        follow.is_none_or(|set| {
            self.input
                .low
                .get(self.skip_ws(pos))
                .is_some_and(|c| set.contains(c))
        })
    }

    /// Past the space at `pos`, if any (the input's word gaps are single
    /// spaces, see `Input`).
    fn skip_ws(&self, pos: usize) -> usize {
        pos + usize::from(self.input.low.get(pos) == Some(&' '))
    }

    fn text_list(
        &mut self,
        list: &'a TextList,
        slot: u32,
        k: &Cont<'a, '_>,
        pos: usize,
        sow: bool,
    ) {
        let follow = self.follow.take();
        let mut found = self.pool.pop().unwrap_or_default();
        found.clear();
        list.trie.find(&self.input.low, pos, &mut found);
        if list.template_values.is_empty() {
            // Plain values only (every runtime list): the hits in list order.
            if found.len() > 1 {
                found.sort_by_key(|&(v, _)| v);
            }
            for &(v, end) in &found {
                let value = &list.values[v as usize];
                if !self.value_allowed(value) || !self.followed(follow, end) {
                    continue;
                }
                self.push_value(slot, pos, end, value);
                self.cont(k, end, sow);
                self.pop_value(value);
            }
            self.pool.push(found);
            return;
        }
        found.sort_by_key(|&(v, _)| v);
        let mut templates = list.template_values.iter().peekable();
        let mut i = 0;
        loop {
            let next_hit = found.get(i).map(|h| h.0);
            let next_tpl = templates.peek().map(|&&t| t);
            let take_tpl = match (next_hit, next_tpl) {
                (None, None) => break,
                (Some(h), Some(t)) => t < h,
                (None, Some(_)) => true,
                (Some(_), None) => false,
            };
            if take_tpl {
                let t = *templates.next().expect("peeked");
                let value = &list.values[t as usize];
                if !self.value_allowed(value) {
                    continue;
                }
                // (A leading word gap may take a hyphen first.)
                let low = &self.input.low;
                let at = |p: usize| low.get(p..).is_some_and(|r| first_matches(&value.first, r));
                if !(at(pos) || (matches!(low.get(pos), Some('-' | '_')) && at(pos + 1))) {
                    continue;
                }
                if let Some(node) = &value.node {
                    let kk = Cont::ListEnd {
                        slot,
                        start: pos,
                        value,
                        saved: self.state.score,
                        sow,
                        next: k,
                    };
                    self.node(node, &kk, pos, sow);
                }
            } else {
                let (v, end) = found[i];
                i += 1;
                let value = &list.values[v as usize];
                if !self.value_allowed(value) || !self.followed(follow, end) {
                    continue;
                }
                self.push_value(slot, pos, end, value);
                self.cont(k, end, sow);
                self.pop_value(value);
            }
        }
        self.pool.push(found);
    }

    fn range_list(
        &mut self,
        range: &'a RangeList,
        slot: u32,
        k: &Cont<'a, '_>,
        pos: usize,
        sow: bool,
    ) {
        let follow = self.follow.take();
        let low = &self.input.low;
        let mut p = pos + usize::from(low.get(pos) == Some(&' '));
        let digits_start = p;
        if p < low.len() && low[p] == '-' && low.get(p + 1).is_some_and(|c| c.is_ascii_digit()) {
            p += 1;
        }
        let int_start = p;
        while p < low.len() && low[p].is_ascii_digit() {
            p += 1;
        }
        if p > int_start {
            if !range.fractions.is_empty()
                && p + 1 < low.len()
                && (low[p] == '.' || low[p] == ',')
                && low[p + 1].is_ascii_digit()
            {
                p += 1;
                while p < low.len() && low[p].is_ascii_digit() {
                    p += 1;
                }
            }
            if range.digits
                && self.followed(follow, p)
                && let Some(n) = parse_number(&low[digits_start..p])
                && range.contains(n)
            {
                self.state.entities.push(Entity {
                    slot,
                    value: EValue::Num(range.out(n)),
                    start: digits_start,
                    end: p,
                    wildcard: false,
                });
                self.cont(k, p, sow);
                self.state.entities.pop();
            }
            return;
        }
        if let Some(trie) = &range.words {
            let pos = if sow { self.skip_ws(pos) } else { pos };
            let low = &self.input.low;
            let mut hits = self.pool.pop().unwrap_or_default();
            hits.clear();
            trie.find(low, pos, &mut hits);
            for &(v, end) in &hits {
                if !self.followed(follow, end) {
                    continue;
                }
                let score = (end - pos) as u32;
                self.state.score += score;
                self.state.entities.push(Entity {
                    slot,
                    value: EValue::Num(range.word_values[v as usize]),
                    start: pos,
                    end,
                    wildcard: false,
                });
                self.cont(k, end, false);
                self.state.entities.pop();
                self.state.score -= score;
            }
            self.pool.push(hits);
        }
    }

    fn wildcard(&mut self, slot: u32, k: &Cont<'a, '_>, pos: usize) {
        let follow = self.follow.take();
        let low = &self.input.low;
        let start = pos + usize::from(low.get(pos) == Some(&' '));
        for end in start + 1..=low.len() {
            // A wildcard ends at a word gap, or inside a word when the template
            // glues the next text to it (`{name}timer`, as Dutch/German compounds
            // and languages without spaces do): that continuation is not at a
            // word start, so only literal text can follow, as in hassil.
            let at_gap = end == low.len() || low[end] == ' ';
            if !at_gap && low[end - 1] == ' ' {
                continue;
            }
            if !self.followed(follow, end) {
                continue;
            }
            self.state.entities.push(Entity {
                slot,
                value: EValue::Spoken,
                start,
                end,
                wildcard: true,
            });
            self.cont(k, end, at_gap);
            self.state.entities.pop();
            if self.steps > MAX_STEPS {
                return;
            }
        }
    }
}

/// True when a choice with start set `first` can start with `ahead` (the
/// character after the whitespace ahead; `bit` its [`first_bit`], 0 at the
/// input's end).
#[inline]
fn opens(first: &FirstSet, ahead: Option<char>, bit: u64) -> bool {
    first.mask & bit != 0 && ahead.is_some_and(|c| first.chars.contains(&c))
}

/// The number written in `digits` (ASCII: a sign, digits, one `.` or `,`),
/// parsed without allocating.
fn parse_number(digits: &[char]) -> Option<f64> {
    let mut buf = [0u8; 48];
    let text = buf.get_mut(..digits.len())?;
    for (b, &c) in text.iter_mut().zip(digits) {
        *b = if c == ',' {
            b'.'
        } else {
            u8::try_from(c).ok()?
        };
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// True when `text` starts with one of `first` (or `first` is `None`: anything).
fn first_matches(first: &Option<Vec<Box<[char]>>>, text: &[char]) -> bool {
    first
        .as_ref()
        .is_none_or(|words| words.iter().any(|w| text.starts_with(w)))
}

/// The literal words a match of `node` can start with (`from_end`: end
/// with), and whether `node` can match nothing. `None` means "anything" (a
/// list comes first).
pub(crate) fn edge_literals(
    node: &Node,
    rules: &[Node],
    depth: usize,
    from_end: bool,
) -> (Option<Vec<Box<[char]>>>, bool) {
    if depth > 64 {
        return (None, false);
    }
    match node {
        Node::Lit { chars, .. } => (Some(vec![chars.clone()]), false),
        Node::Space => (Some(vec![]), true),
        Node::List { .. } => (None, false),
        Node::Rule(i) => edge_literals(&rules[*i as usize], rules, depth + 1, from_end),
        Node::Alt(items, _) => {
            let mut all = Some(vec![]);
            let mut nullable = items.is_empty();
            for item in items.iter() {
                let (f, n) = edge_literals(item, rules, depth + 1, from_end);
                nullable |= n;
                all = match (all, f) {
                    (Some(mut a), Some(f)) => {
                        a.extend(f);
                        Some(a)
                    }
                    _ => None,
                };
            }
            (all.filter(|a| a.len() <= 256), nullable)
        }
        Node::Seq(items) => {
            let mut all = Some(vec![]);
            let mut ordered: Box<dyn Iterator<Item = &Node>> = if from_end {
                Box::new(items.iter().rev())
            } else {
                Box::new(items.iter())
            };
            for item in &mut ordered {
                let (f, n) = edge_literals(item, rules, depth + 1, from_end);
                all = match (all, f) {
                    (Some(mut a), Some(f)) => {
                        a.extend(f);
                        Some(a)
                    }
                    _ => None,
                };
                if !n || all.is_none() {
                    return (all.filter(|a| a.len() <= 256), false);
                }
            }
            (all, true)
        }
    }
}

/// The most literals one clause of [`required_clauses`] may list.
const MAX_CLAUSE: usize = 32;

/// Clauses every match of `node` satisfies, for pre-filtering: each clause
/// lists literal strings of which a match contains at least one (a single
/// literal when it is always there; one per choice for alternatives whose
/// choices each need their own literal, like `(all|every) lights`).
pub(crate) fn required_clauses(node: &Node, rules: &[Node], out: &mut Vec<Vec<String>>) {
    match node {
        Node::Lit { chars, .. } => out.push(vec![chars.iter().collect()]),
        Node::Space | Node::List { .. } => {}
        Node::Seq(items) => {
            for item in items.iter() {
                required_clauses(item, rules, out);
            }
        }
        Node::Alt(items, _) => {
            let mut common: Option<Vec<Vec<String>>> = None;
            let mut any_of: Option<Vec<String>> = Some(vec![]);
            for item in items.iter() {
                let mut mine = Vec::new();
                required_clauses(item, rules, &mut mine);
                // The item's tightest clause joins the alternative's "any of".
                any_of = match (any_of, mine.iter().min_by_key(|c| c.len())) {
                    (Some(mut all), Some(best)) if all.len() + best.len() <= MAX_CLAUSE => {
                        all.extend(best.iter().cloned());
                        Some(all)
                    }
                    _ => None,
                };
                common = Some(match common {
                    None => mine,
                    Some(c) => c.into_iter().filter(|s| mine.contains(s)).collect(),
                });
            }
            let common = common.unwrap_or_default();
            if let Some(mut any_of) = any_of.filter(|a| !a.is_empty() && !items.is_empty()) {
                any_of.sort();
                any_of.dedup();
                if !common.iter().any(|c| c.iter().all(|l| any_of.contains(l))) {
                    out.push(any_of);
                }
            }
            out.extend(common);
        }
        Node::Rule(i) => required_clauses(&rules[*i as usize], rules, out),
    }
}

/// The most characters a choice's start set of [`Firsts`] may hold.
const MAX_FIRSTS: usize = 16;

/// The characters a match of `node` can start with after the whitespace
/// before it (`None`: any), and whether it can match nothing. A word gap
/// inside may take a hyphen or underscore instead of whitespace, so those
/// join the set of what follows one.
fn first_chars(node: &Node, rules: &[Node], depth: usize) -> (Option<Vec<char>>, bool) {
    if depth > 64 {
        return (None, false);
    }
    match node {
        Node::Lit { chars, .. } => (chars.first().map(|&c| vec![c]), chars.is_empty()),
        Node::Space => (Some(vec![]), true),
        Node::List { .. } => (None, false),
        Node::Rule(i) => first_chars(&rules[*i as usize], rules, depth + 1),
        Node::Alt(items, _) => {
            let mut all = Some(vec![]);
            let mut nullable = items.is_empty();
            for item in items.iter() {
                let (f, n) = first_chars(item, rules, depth + 1);
                nullable |= n;
                all = all.zip(f).map(|(mut a, f)| {
                    a.extend(f);
                    a
                });
            }
            (all, nullable)
        }
        Node::Seq(items) => seq_first_chars(items, rules, depth),
    }
}

/// [`first_chars`] of a sequence of nodes.
fn seq_first_chars(items: &[Node], rules: &[Node], depth: usize) -> (Option<Vec<char>>, bool) {
    let mut all = Some(vec![]);
    for item in items.iter() {
        if matches!(item, Node::Space) {
            all = all.map(|mut a| {
                a.extend(['-', '_']);
                a
            });
            continue;
        }
        let (f, n) = first_chars(item, rules, depth + 1);
        all = all.zip(f).map(|(mut a, f)| {
            a.extend(f);
            a
        });
        if !n || all.is_none() {
            return (all, false);
        }
    }
    (all, true)
}

/// Fills in the start characters ([`Firsts`]) of every alternative inside
/// `node`, whose rule references point into `rules`.
pub(crate) fn annotate(node: &mut Node, rules: &[Node]) {
    match node {
        Node::Seq(items) => {
            for i in 0..items.len() {
                annotate(&mut items[i], rules);
                if let Node::List { .. } = items[i] {
                    let next = match seq_first_chars(&items[i + 1..], rules, 0) {
                        (Some(mut set), false) if !set.is_empty() => {
                            set.sort_unstable();
                            set.dedup();
                            (set.len() <= MAX_FIRSTS).then(|| set.into())
                        }
                        _ => None,
                    };
                    if let Node::List { follow, .. } = &mut items[i] {
                        *follow = next;
                    }
                }
            }
        }
        Node::Alt(items, firsts) => {
            items.iter_mut().for_each(|i| annotate(i, rules));
            let sets: Box<[Option<FirstSet>]> = items
                .iter()
                .map(|item| match first_chars(item, rules, 0) {
                    (Some(mut set), false) => {
                        set.sort_unstable();
                        set.dedup();
                        (set.len() <= MAX_FIRSTS).then(|| FirstSet::new(set))
                    }
                    _ => None,
                })
                .collect();
            *firsts = sets.iter().any(Option::is_some).then_some(sets);
        }
        Node::Lit { .. } | Node::Space | Node::List { .. } | Node::Rule(_) => {}
    }
}

/// [`annotate`] for every rule of a table (rules refer to rules of the same table).
pub(crate) fn annotate_table(table: &mut [Node]) {
    let snapshot = table.to_vec();
    for node in table.iter_mut() {
        annotate(node, &snapshot);
    }
}
