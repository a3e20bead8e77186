//! The sequence kernel of a document's text (DESIGN §9): Fugue's element order, in runs.
//!
//! A text is a Fugue tree (Weidner and Kleppmann, 2023): every character is the left or
//! right child of another (or of the root), siblings are ordered by element id, and the
//! text is the tree's in-order walk. `lattice.state` holds the semantics and the validity
//! rules; this module holds the order, fast:
//!
//! - the walk is kept as **runs** (consecutive elements of one insert, all deleted or all
//!   not) in the leaves of a counted B-tree, so the element at a visible index and the
//!   visible index of an element are O(log n);
//! - an element finds its run through an ordered map of run starts, O(log n);
//! - an insert op of n characters is one run, each character the right child of the one
//!   before (the implicit successor), so typing a paragraph costs one run, not n nodes.
//!
//! A new character's place in the walk follows from the tree alone: the right child `x`
//! of `p` goes before the leftmost descendant of its smallest greater sibling, or, if it
//! is the greatest, right after the last element of `p`'s subtree; a left child goes
//! before its smallest greater sibling's leftmost descendant or right before `p`. A local
//! insert (Fugue's rule: the right child of a character with none, else the left child of
//! the next) never has siblings, so it is placed without walking anything. Siblings are
//! kept in id order (a parent with many finds the next one in O(log n)), and a subtree's
//! edge is found by two searches in step — down its edge path, and up to where the walk
//! leaves it — so that a hostile author's deep chains with a conflict at every link cost
//! each insert the shorter of the two, not the depth of the tree.
//!
//! `mark` / `rollback` undo everything since the mark: a document's transaction edits its
//! text in place (later ops of the transaction see earlier ones) and rolls back before the
//! batch is applied as every replica applies it.
//!
//! ```
//! use lattice::text::{Elem, Sequence, RIGHT};
//! let e = Elem { entry: [1; 32], index: 0 };
//! let mut seq = Sequence::new();
//! seq.insert(None, RIGHT, e, &"helo".chars().collect::<Vec<_>>()).unwrap();
//! let (parent, side) = seq.place(3).unwrap(); // between "hel" and "o"
//! seq.insert(parent, side, Elem { entry: [1; 32], index: 4 }, &['l']).unwrap();
//! assert_eq!(seq.text(), "hello");
//! ```

// The kernel's `expect`s name invariants of its own tree (every run's op exists, every
// run start in `leaf_of` is in its leaf); the public methods check their inputs first.
#![allow(clippy::expect_used)]

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use thiserror::Error;

use crate::Id;

/// The side of its parent an element hangs on.
/// The left side.
pub const LEFT: u8 = 0;
/// The right side.
pub const RIGHT: u8 = 1;
/// Runs a leaf holds, and children an inner node holds, before it splits in two.
const NODE_MAX: usize = 48;
const NONE: u32 = u32::MAX;
/// The root of the tree, as a parent.
const ROOT: Key = u64::MAX;

/// An element id as documents name it: the entry that typed it and its op index there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Elem {
    /// The entry that typed it.
    pub entry: Id,
    /// Its op index in that entry.
    pub index: u32,
}

/// What the kernel refuses (the document layer validates first; these are its backstop).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TextError {
    /// Refused (the message says why).
    #[error("element {0} is not in this text")]
    Missing(String),
    /// Refused (the message says why).
    #[error("element {0} is already in this text")]
    Duplicate(String),
    /// Refused (the message says why).
    #[error("index {index} is outside a text of {len}")]
    OutOfRange {
        /// The index asked for.
        index: usize,
        /// The text's length.
        len: usize,
    },
    /// Refused (the message says why).
    #[error("a side is LEFT (0) or RIGHT (1), not {0}")]
    BadSide(u8),
    /// Refused (the message says why).
    #[error("a run of {0} characters does not fit in one entry's op indexes")]
    TooLong(usize),
    /// Refused (the message says why).
    #[error("an empty insert")]
    Empty,
    /// Refused (the message says why).
    #[error("a child of the root is on its right (the root has one list of children)")]
    RootLeft,
    /// Refused (the message says why).
    #[error("no mark to roll back to")]
    NoMark,
    /// Refused (the message says why).
    #[error("a text's nodes do not form one tree: {0}")]
    NotATree(&'static str),
}

/// An element inside the kernel: entry number (interned) in the high half, index low.
type Key = u64;

fn key(entry: u32, index: u32) -> Key {
    (u64::from(entry) << 32) | u64::from(index)
}

fn entry_of(k: Key) -> u32 {
    (k >> 32) as u32
}

/// One insert op: `len` characters from `first`, the first a child of `parent`.
#[derive(Clone, Copy, Debug)]
struct Op {
    first: Key,
    len: u32,
    parent: Key,
    side: u8,
    /// Where its characters start in `Sequence::chars`.
    chars: u32,
}

/// The children (ops) of one parent on one side, in id order: most parents have one, and
/// a parent with many finds the first greater one or the greatest in O(log n).
#[derive(Debug)]
enum Kids {
    One(u32),
    // Boxed: a `Kids` stays 16 bytes, as nearly every parent has just one child.
    #[allow(clippy::box_collection)]
    Many(Box<BTreeMap<(Id, u32), u32>>),
}

/// Consecutive elements of one op, side by side in the walk, deleted alike.
#[derive(Clone, Copy, Debug)]
struct Run {
    op: u32,
    start: u32,
    len: u32,
    deleted: bool,
}

impl Run {
    fn visible(&self) -> usize {
        if self.deleted { 0 } else { self.len as usize }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Count {
    total: usize,
    visible: usize,
}

#[derive(Debug)]
enum Body {
    Leaf(Vec<Run>),
    Inner(Vec<(u32, Count)>),
}

#[derive(Debug)]
struct Node {
    parent: u32,
    body: Body,
}

/// What `rollback` undoes, newest last.
#[derive(Debug)]
enum Undo {
    Inserted,
    Deleted(Key, u32),
}

/// One text: its Fugue tree, kept as its in-order walk of runs.
#[derive(Debug)]
pub struct Sequence {
    entries: Vec<Id>,
    entry_no: HashMap<Id, u32>,
    ops: Vec<Op>,
    /// Op start -> op number (every element of an op is `first..first + len`).
    op_at: BTreeMap<Key, u32>,
    /// The first child (op number) of each parent, per side; the root's under `ROOT`.
    left_kids: HashMap<Key, Kids>,
    right_kids: BTreeMap<Key, Kids>,
    chars: Vec<char>,
    nodes: Vec<Node>,
    root: u32,
    /// Run start -> the leaf holding it.
    leaf_of: BTreeMap<Key, u32>,
    count: Count,
    journal: Option<Vec<Undo>>,
}

impl Default for Sequence {
    fn default() -> Self {
        Self::new()
    }
}

/// Where the walk goes on after a subtree.
enum Boundary {
    /// Right after this element (the subtree's last).
    After(Key),
    /// Right before this element (the first after the subtree).
    Before(Key),
    /// At the end of the text.
    End,
    /// At the start of the text.
    Start,
}

/// The upward search of [`Sequence::after_subtree`] and [`Sequence::before_subtree`]:
/// climbing, or descending a sibling's leftmost (rightmost) path.
enum Climb {
    Up(Key),
    Down(Key),
}

/// A place in the walk: a leaf, a run in it, an offset in the run.
#[derive(Clone, Copy, Debug)]
struct At {
    leaf: u32,
    run: usize,
    off: u32,
}

impl Sequence {
    /// An empty text.
    pub fn new() -> Self {
        Sequence {
            entries: Vec::new(),
            entry_no: HashMap::new(),
            ops: Vec::new(),
            op_at: BTreeMap::new(),
            left_kids: HashMap::new(),
            right_kids: BTreeMap::new(),
            chars: Vec::new(),
            nodes: vec![Node {
                parent: NONE,
                body: Body::Leaf(Vec::new()),
            }],
            root: 0,
            leaf_of: BTreeMap::new(),
            count: Count::default(),
            journal: None,
        }
    }

    /// Characters there (not deleted).
    pub fn len(&self) -> usize {
        self.count.visible
    }

    /// No characters there.
    pub fn is_empty(&self) -> bool {
        self.count.visible == 0
    }

    /// Every element, tombstones included.
    pub fn total(&self) -> usize {
        self.count.total
    }

    // --- ids ----------------------------------------------------------------------------

    fn intern(&mut self, entry: &Id) -> u32 {
        if let Some(&n) = self.entry_no.get(entry) {
            return n;
        }
        let n = self.entries.len() as u32;
        self.entries.push(*entry);
        self.entry_no.insert(*entry, n);
        n
    }

    fn key_of(&self, e: &Elem) -> Option<Key> {
        self.entry_no.get(&e.entry).map(|&n| key(n, e.index))
    }

    fn elem(&self, k: Key) -> Elem {
        Elem {
            entry: self.entries[entry_of(k) as usize],
            index: k as u32,
        }
    }

    /// Element id order: entry bytes, then index (as `lattice.state.ops.Element` orders).
    fn cmp(&self, a: Key, b: Key) -> Ordering {
        self.entries[entry_of(a) as usize]
            .cmp(&self.entries[entry_of(b) as usize])
            .then((a as u32).cmp(&(b as u32)))
    }

    /// The op an element belongs to.
    fn op_of(&self, k: Key) -> Option<u32> {
        let (&first, &op) = self.op_at.range(..=k).next_back()?;
        (entry_of(first) == entry_of(k) && k - first < u64::from(self.ops[op as usize].len))
            .then_some(op)
    }

    /// Whether `e` is in this text (deleted or not).
    pub fn contains(&self, e: &Elem) -> bool {
        self.key_of(e).and_then(|k| self.op_of(k)).is_some()
    }

    /// Whether all of `count` elements from `first` are in this text.
    pub fn contains_run(&self, first: &Elem, count: u32) -> bool {
        if count == 0 {
            return self.contains(first);
        }
        let Some(mut k) = self.key_of(first) else {
            return false;
        };
        let Some(end) = (first.index as u64).checked_add(count as u64) else {
            return false;
        };
        if end > u64::from(u32::MAX) + 1 {
            return false;
        }
        let end = key(entry_of(k), 0) + end;
        while k < end {
            let Some(op) = self.op_of(k) else {
                return false;
            };
            let o = self.ops[op as usize];
            k = o.first + u64::from(o.len);
        }
        true
    }

    fn run_key(&self, r: &Run) -> Key {
        self.ops[r.op as usize].first + u64::from(r.start)
    }

    fn runs(&self, leaf: u32) -> &Vec<Run> {
        match &self.nodes[leaf as usize].body {
            Body::Leaf(runs) => runs,
            Body::Inner(_) => unreachable!("a leaf"),
        }
    }

    fn runs_mut(&mut self, leaf: u32) -> &mut Vec<Run> {
        match &mut self.nodes[leaf as usize].body {
            Body::Leaf(runs) => runs,
            Body::Inner(_) => unreachable!("a leaf"),
        }
    }

    fn locate(&self, k: Key) -> Option<At> {
        let (&start, &leaf) = self.leaf_of.range(..=k).next_back()?;
        if entry_of(start) != entry_of(k) {
            return None;
        }
        let runs = self.runs(leaf);
        let run = runs.iter().position(|r| self.run_key(r) == start)?;
        let off = k - start;
        (off < u64::from(runs[run].len)).then_some(At {
            leaf,
            run,
            off: off as u32,
        })
    }

    // --- the tree of counts -------------------------------------------------------------

    fn adjust(&mut self, node: u32, total: isize, visible: isize) {
        let apply = |c: &mut Count| {
            c.total = c.total.wrapping_add_signed(total);
            c.visible = c.visible.wrapping_add_signed(visible);
        };
        apply(&mut self.count);
        let mut child = node;
        let mut parent = self.nodes[node as usize].parent;
        while parent != NONE {
            if let Body::Inner(kids) = &mut self.nodes[parent as usize].body {
                let slot = kids.iter_mut().find(|(n, _)| *n == child).expect("a child");
                apply(&mut slot.1);
            }
            child = parent;
            parent = self.nodes[parent as usize].parent;
        }
    }

    fn count_of(&self, node: u32) -> Count {
        match &self.nodes[node as usize].body {
            Body::Leaf(runs) => runs.iter().fold(Count::default(), |c, r| Count {
                total: c.total + r.len as usize,
                visible: c.visible + r.visible(),
            }),
            Body::Inner(kids) => kids.iter().fold(Count::default(), |c, (_, k)| Count {
                total: c.total + k.total,
                visible: c.visible + k.visible,
            }),
        }
    }

    /// Split an overfull node in two, up to the root.
    fn split(&mut self, node: u32) {
        let len = match &self.nodes[node as usize].body {
            Body::Leaf(runs) => runs.len(),
            Body::Inner(kids) => kids.len(),
        };
        if len <= NODE_MAX {
            return;
        }
        let fresh = self.nodes.len() as u32;
        let body = match &mut self.nodes[node as usize].body {
            Body::Leaf(runs) => Body::Leaf(runs.split_off(len / 2)),
            Body::Inner(kids) => Body::Inner(kids.split_off(len / 2)),
        };
        match &body {
            Body::Leaf(runs) => {
                for r in runs {
                    let k = self.ops[r.op as usize].first + u64::from(r.start);
                    self.leaf_of.insert(k, fresh);
                }
            }
            Body::Inner(kids) => {
                for (kid, _) in kids {
                    self.nodes[*kid as usize].parent = fresh;
                }
            }
        }
        let mut parent = self.nodes[node as usize].parent;
        self.nodes.push(Node { parent, body });
        let (left, right) = (self.count_of(node), self.count_of(fresh));
        if parent == NONE {
            parent = self.nodes.len() as u32;
            self.nodes.push(Node {
                parent: NONE,
                body: Body::Inner(vec![(node, left)]),
            });
            self.nodes[node as usize].parent = parent;
            self.nodes[fresh as usize].parent = parent;
            self.root = parent;
        }
        if let Body::Inner(kids) = &mut self.nodes[parent as usize].body {
            let at = kids.iter().position(|(n, _)| *n == node).expect("a child");
            kids[at].1 = left;
            kids.insert(at + 1, (fresh, right));
        }
        self.split(parent);
    }

    /// The visible index before `at` (and the total index).
    fn index_at(&self, at: At) -> Count {
        let runs = self.runs(at.leaf);
        let mut c = Count {
            total: at.off as usize,
            visible: 0,
        };
        if !runs[at.run].deleted {
            c.visible = at.off as usize;
        }
        for r in &runs[..at.run] {
            c.total += r.len as usize;
            c.visible += r.visible();
        }
        let mut child = at.leaf;
        let mut parent = self.nodes[child as usize].parent;
        while parent != NONE {
            if let Body::Inner(kids) = &self.nodes[parent as usize].body {
                for (n, k) in kids {
                    if *n == child {
                        break;
                    }
                    c.total += k.total;
                    c.visible += k.visible;
                }
            }
            child = parent;
            parent = self.nodes[parent as usize].parent;
        }
        c
    }

    /// The place of the `index`-th visible character (`index < len`).
    fn visible_at(&self, mut index: usize) -> At {
        let mut node = self.root;
        loop {
            match &self.nodes[node as usize].body {
                Body::Inner(kids) => {
                    let mut next = kids.last().expect("a child").0;
                    for (n, k) in kids {
                        if index < k.visible {
                            next = *n;
                            break;
                        }
                        index -= k.visible;
                    }
                    node = next;
                }
                Body::Leaf(runs) => {
                    for (run, r) in runs.iter().enumerate() {
                        if index < r.visible() {
                            return At {
                                leaf: node,
                                run,
                                off: index as u32,
                            };
                        }
                        index -= r.visible();
                    }
                    unreachable!("the counts say the character is here")
                }
            }
        }
    }

    /// The leaves in walk order, from the one holding `from` on.
    fn next_leaf(&self, leaf: u32) -> Option<u32> {
        let mut child = leaf;
        let mut parent = self.nodes[child as usize].parent;
        while parent != NONE {
            if let Body::Inner(kids) = &self.nodes[parent as usize].body {
                let at = kids.iter().position(|(n, _)| *n == child).expect("a child");
                if at + 1 < kids.len() {
                    let mut node = kids[at + 1].0;
                    while let Body::Inner(k) = &self.nodes[node as usize].body {
                        node = k[0].0;
                    }
                    return Some(node);
                }
            }
            child = parent;
            parent = self.nodes[parent as usize].parent;
        }
        None
    }

    fn first_leaf(&self) -> u32 {
        let mut node = self.root;
        while let Body::Inner(k) = &self.nodes[node as usize].body {
            node = k[0].0;
        }
        node
    }

    fn last_leaf(&self) -> u32 {
        let mut node = self.root;
        while let Body::Inner(k) = &self.nodes[node as usize].body {
            node = k.last().expect("a child").0;
        }
        node
    }

    /// Runs in walk order from `at` (its run cut at the offset): (first key, len, deleted).
    fn walk_from(&self, at: At) -> impl Iterator<Item = (Key, u32, bool)> + '_ {
        let mut leaf = Some(at.leaf);
        let mut run = at.run;
        let mut off = at.off;
        std::iter::from_fn(move || {
            loop {
                let l = leaf?;
                let runs = self.runs(l);
                if run < runs.len() {
                    let r = runs[run];
                    let skip = std::mem::take(&mut off);
                    run += 1;
                    return Some((self.run_key(&r) + u64::from(skip), r.len - skip, r.deleted));
                }
                leaf = self.next_leaf(l);
                run = 0;
            }
        })
    }

    fn start(&self) -> At {
        At {
            leaf: self.first_leaf(),
            run: 0,
            off: 0,
        }
    }

    // --- the Fugue tree -----------------------------------------------------------------

    fn kids(&self, parent: Key, side: u8) -> Option<&Kids> {
        if side == LEFT && parent != ROOT {
            self.left_kids.get(&parent)
        } else {
            self.right_kids.get(&parent)
        }
    }

    /// An element's id as sibling order sees it: entry bytes, then index.
    fn id_of(&self, k: Key) -> (Id, u32) {
        (self.entries[entry_of(k) as usize], k as u32)
    }

    fn first_of(&self, op: u32) -> Key {
        self.ops[op as usize].first
    }

    /// The smallest child of `parent` on `side`.
    fn smallest_kid(&self, parent: Key, side: u8) -> Option<Key> {
        match self.kids(parent, side)? {
            Kids::One(op) => Some(self.first_of(*op)),
            Kids::Many(m) => m.values().next().map(|op| self.first_of(*op)),
        }
    }

    /// The greatest child of `parent` on `side`.
    fn greatest_kid(&self, parent: Key, side: u8) -> Option<Key> {
        match self.kids(parent, side)? {
            Kids::One(op) => Some(self.first_of(*op)),
            Kids::Many(m) => m.values().next_back().map(|op| self.first_of(*op)),
        }
    }

    /// The smallest child of `parent` on `side` greater than `x`.
    fn kid_after(&self, parent: Key, side: u8, x: Key) -> Option<Key> {
        match self.kids(parent, side)? {
            Kids::One(op) => {
                let first = self.first_of(*op);
                (self.cmp(first, x) == Ordering::Greater).then_some(first)
            }
            Kids::Many(m) => {
                let after = (Bound::Excluded(self.id_of(x)), Bound::Unbounded);
                m.range(after).next().map(|(_, op)| self.first_of(*op))
            }
        }
    }

    /// The last element of an op (the key of the implicit successor chain's end).
    fn op_last(&self, k: Key) -> Key {
        let o = self.ops[self.op_of(k).expect("in the text") as usize];
        o.first + u64::from(o.len) - 1
    }

    /// The greatest right child of `p` (its explicit ones and its implicit successor).
    fn greatest_right(&self, p: Key) -> Option<Key> {
        let explicit = self.greatest_kid(p, RIGHT);
        let implicit = (p != self.op_last(p)).then_some(p + 1);
        match (explicit, implicit) {
            (Some(a), Some(b)) => Some(if self.cmp(a, b) == Ordering::Greater {
                a
            } else {
                b
            }),
            (a, b) => a.or(b),
        }
    }

    /// One step down the rightmost path of a subtree: the next element on it, or None at
    /// its last element (along a run, straight to the next character with explicit right
    /// children).
    fn down_right(&self, p: Key) -> Option<Key> {
        let next = self.greatest_right(p)?;
        if next == p + 1 && entry_of(next) == entry_of(p) && self.op_of(next) == self.op_of(p) {
            let last = self.op_last(p);
            return Some(
                self.right_kids
                    .range(p + 1..=last)
                    .next()
                    .map_or(last, |(&k, _)| k),
            );
        }
        Some(next)
    }

    /// An element's parent and side (a character inside a run: the one before, right).
    fn parent_side(&self, q: Key) -> (Key, u8) {
        let op = self.ops[self.op_of(q).expect("in the text") as usize];
        if q == op.first {
            (op.parent, op.side)
        } else {
            (q - 1, RIGHT)
        }
    }

    /// The smallest sibling of `q` greater than it, the parent's implicit successor
    /// included.
    fn next_sibling(&self, q: Key, parent: Key, side: u8) -> Option<Key> {
        let explicit = self.kid_after(parent, side, q);
        if side == LEFT || parent == ROOT || parent == self.op_last(parent) || q == parent + 1 {
            return explicit;
        }
        let implicit = parent + 1;
        let later = self.cmp(implicit, q) == Ordering::Greater;
        match explicit {
            Some(e) if !later || self.cmp(e, implicit) == Ordering::Less => Some(e),
            _ if later => Some(implicit),
            other => other,
        }
    }

    /// Where the walk goes on after `p`'s whole subtree. Two ways find it: down `p`'s
    /// rightmost path to its last element, or up from `p` to the first ancestor with a
    /// greater sibling (then down that sibling's leftmost path) or that is a left child.
    /// They run in step and the first to finish answers, so a deep chain costs what the
    /// shorter way costs.
    fn after_subtree(&self, p: Key) -> Boundary {
        let mut down = p;
        let mut up = Climb::Up(p);
        loop {
            match self.down_right(down) {
                None => return Boundary::After(down),
                Some(next) => down = next,
            }
            up = match up {
                Climb::Up(q) => {
                    let (parent, side) = self.parent_side(q);
                    match self.next_sibling(q, parent, side) {
                        Some(g) => Climb::Down(g),
                        None if parent == ROOT => return Boundary::End,
                        None if side == LEFT => return Boundary::Before(parent),
                        None => Climb::Up(parent),
                    }
                }
                Climb::Down(g) => match self.smallest_kid(g, LEFT) {
                    Some(first) => Climb::Down(first),
                    None => return Boundary::Before(g),
                },
            };
        }
    }

    /// The greatest sibling of `q` smaller than it, the parent's implicit successor
    /// included.
    fn prev_sibling(&self, q: Key, parent: Key, side: u8) -> Option<Key> {
        let explicit = match self.kids(parent, side)? {
            Kids::One(op) => {
                let first = self.first_of(*op);
                (self.cmp(first, q) == Ordering::Less).then_some(first)
            }
            Kids::Many(m) => {
                let before = (Bound::Unbounded, Bound::Excluded(self.id_of(q)));
                m.range(before)
                    .next_back()
                    .map(|(_, op)| self.first_of(*op))
            }
        };
        if side == LEFT || parent == ROOT || parent == self.op_last(parent) || q == parent + 1 {
            return explicit;
        }
        let implicit = parent + 1;
        let earlier = self.cmp(implicit, q) == Ordering::Less;
        match explicit {
            Some(e) if !earlier || self.cmp(e, implicit) == Ordering::Greater => Some(e),
            _ if earlier => Some(implicit),
            other => other,
        }
    }

    /// Where the walk is just before `g`'s whole subtree: down `g`'s leftmost path to its
    /// first element, or up from `g` to a smaller sibling (then down its rightmost path),
    /// a parent it is a right child of, or the start; in step, as [`Self::after_subtree`].
    fn before_subtree(&self, g: Key) -> Boundary {
        let mut down = g;
        let mut up = Climb::Up(g);
        loop {
            match self.smallest_kid(down, LEFT) {
                None => return Boundary::Before(down),
                Some(first) => down = first,
            }
            up = match up {
                Climb::Up(q) => {
                    let (parent, side) = self.parent_side(q);
                    match self.prev_sibling(q, parent, side) {
                        Some(s) => Climb::Down(s),
                        None if parent == ROOT => return Boundary::Start,
                        None if side == RIGHT => return Boundary::After(parent),
                        None => Climb::Up(parent),
                    }
                }
                Climb::Down(k) => match self.down_right(k) {
                    Some(next) => Climb::Down(next),
                    None => return Boundary::After(k),
                },
            };
        }
    }

    /// The place right after element `k`.
    fn just_after(&self, k: Key) -> At {
        let at = self.locate(k).expect("in the text");
        if at.off + 1 < self.runs(at.leaf)[at.run].len {
            At {
                off: at.off + 1,
                ..at
            }
        } else {
            At {
                run: at.run + 1,
                off: 0,
                ..at
            }
        }
    }

    /// The place after the last element.
    fn end(&self) -> At {
        let leaf = self.last_leaf();
        At {
            leaf,
            run: self.runs(leaf).len(),
            off: 0,
        }
    }

    /// Where in the walk a new element `x`, child of `parent` on `side`, goes.
    fn place_of(&self, x: Key, parent: Key, side: u8) -> At {
        let right = side == RIGHT || parent == ROOT;
        let mut greater = self.kid_after(parent, side, x);
        if right && parent != ROOT && parent != self.op_last(parent) {
            let implicit = parent + 1;
            if self.cmp(implicit, x) == Ordering::Greater
                && greater.is_none_or(|g| self.cmp(implicit, g) == Ordering::Less)
            {
                greater = Some(implicit);
            }
        }
        if let Some(g) = greater {
            return match self.before_subtree(g) {
                Boundary::Before(first) => self.locate(first).expect("in the text"),
                Boundary::After(k) => self.just_after(k),
                Boundary::Start | Boundary::End => self.start(),
            };
        }
        if !right {
            return self.locate(parent).expect("in the text");
        }
        if parent == ROOT {
            return self.end();
        }
        match self.after_subtree(parent) {
            Boundary::After(end) => self.just_after(end),
            Boundary::Before(next) => self.locate(next).expect("in the text"),
            Boundary::End | Boundary::Start => self.end(),
        }
    }

    /// Put `run` into the walk at `at`, cutting the run there if it is inside one.
    fn put(&mut self, at: At, run: Run) {
        let mut index = at.run;
        if at.off > 0 {
            let runs = self.runs_mut(at.leaf);
            let mut tail = runs[index];
            runs[index].len = at.off;
            tail.start += at.off;
            tail.len -= at.off;
            runs.insert(index + 1, tail);
            let k = self.run_key(&tail);
            self.leaf_of.insert(k, at.leaf);
            index += 1;
        }
        self.runs_mut(at.leaf).insert(index, run);
        let k = self.run_key(&run);
        self.leaf_of.insert(k, at.leaf);
        self.adjust(at.leaf, run.len as isize, run.visible() as isize);
        self.split(at.leaf);
    }

    /// Insert `text` as a run: `first` under `parent` (None: the root) on `side`, each
    /// next character (the next index) the right child of the one before.
    pub fn insert(
        &mut self,
        parent: Option<Elem>,
        side: u8,
        first: Elem,
        text: &[char],
    ) -> Result<(), TextError> {
        if side > RIGHT {
            return Err(TextError::BadSide(side));
        }
        if text.is_empty() {
            return Err(TextError::Empty);
        }
        if parent.is_none() && side == LEFT {
            return Err(TextError::RootLeft);
        }
        let len = u32::try_from(text.len()).map_err(|_| TextError::TooLong(text.len()))?;
        if u64::from(first.index) + u64::from(len) > u64::from(u32::MAX) {
            return Err(TextError::TooLong(text.len()));
        }
        let p = match parent {
            None => ROOT,
            Some(e) => self
                .key_of(&e)
                .filter(|&k| self.op_of(k).is_some())
                .ok_or_else(|| TextError::Missing(show(&e)))?,
        };
        let entry = self.intern(&first.entry);
        let x = key(entry, first.index);
        let clash =
            self.op_at.range(x..x + u64::from(len)).next().is_some() || self.op_of(x).is_some();
        if clash {
            return Err(TextError::Duplicate(show(&first)));
        }
        let at = self.place_of(x, p, side);
        let op = self.ops.len() as u32;
        self.ops.push(Op {
            first: x,
            len,
            parent: p,
            side,
            chars: self.chars.len() as u32,
        });
        self.chars.extend_from_slice(text);
        self.op_at.insert(x, op);
        self.link(op);
        self.put(
            at,
            Run {
                op,
                start: 0,
                len,
                deleted: false,
            },
        );
        if let Some(journal) = &mut self.journal {
            journal.push(Undo::Inserted);
        }
        Ok(())
    }

    /// Type `text` at visible `index` as a new run from `first` (Fugue's rule, as
    /// [`Self::place`]); returns where it went, `(parent, side)`.
    pub fn type_at(
        &mut self,
        index: usize,
        first: Elem,
        text: &[char],
    ) -> Result<(Option<Elem>, u8), TextError> {
        let (parent, side) = self.place(index)?;
        self.insert(parent, side, first, text)?;
        Ok((parent, side))
    }

    fn take_kids(&mut self, parent: Key, side: u8) -> Option<Kids> {
        if side == LEFT && parent != ROOT {
            self.left_kids.remove(&parent)
        } else {
            self.right_kids.remove(&parent)
        }
    }

    fn put_kids(&mut self, parent: Key, side: u8, kids: Kids) {
        if side == LEFT && parent != ROOT {
            self.left_kids.insert(parent, kids);
        } else {
            self.right_kids.insert(parent, kids);
        }
    }

    /// Add op `op` to its parent's children, in id order.
    fn link(&mut self, op: u32) {
        let Op {
            first,
            parent,
            side,
            ..
        } = self.ops[op as usize];
        let id = self.id_of(first);
        let kids = match self.take_kids(parent, side) {
            None => Kids::One(op),
            Some(Kids::One(other)) => {
                let other_id = self.id_of(self.first_of(other));
                Kids::Many(Box::new(BTreeMap::from([(other_id, other), (id, op)])))
            }
            Some(Kids::Many(mut many)) => {
                many.insert(id, op);
                Kids::Many(many)
            }
        };
        self.put_kids(parent, side, kids);
    }

    fn unlink(&mut self, op: u32) {
        let Op {
            first,
            parent,
            side,
            ..
        } = self.ops[op as usize];
        let kids = match self.take_kids(parent, side) {
            Some(Kids::Many(mut many)) => {
                many.remove(&self.id_of(first));
                match many.len() {
                    0 => return,
                    1 => Kids::One(*many.values().next().expect("one")),
                    _ => Kids::Many(many),
                }
            }
            Some(Kids::One(other)) if other != op => Kids::One(other),
            _ => return,
        };
        self.put_kids(parent, side, kids);
    }

    /// Mark `count` elements from `first` deleted (or not); returns the ranges whose flag
    /// changed.
    fn set_deleted(&mut self, first: Key, count: u32, deleted: bool) -> Vec<(Key, u32)> {
        let mut changed = Vec::new();
        let mut k = first;
        let mut left = count;
        while left > 0 {
            let at = self.locate(k).expect("checked");
            let r = self.runs(at.leaf)[at.run];
            let n = left.min(r.len - at.off);
            if r.deleted != deleted {
                self.flip(at, n, deleted);
                changed.push((k, n));
            }
            k += u64::from(n);
            left -= n;
        }
        changed
    }

    /// Flip `n` elements at `at` (all inside one run) to `deleted`.
    fn flip(&mut self, at: At, n: u32, deleted: bool) {
        let leaf = at.leaf;
        let mut index = at.run;
        let r = self.runs(leaf)[index];
        let mut pieces = Vec::with_capacity(3);
        if at.off > 0 {
            pieces.push(Run { len: at.off, ..r });
        }
        pieces.push(Run {
            start: r.start + at.off,
            len: n,
            deleted,
            ..r
        });
        if at.off + n < r.len {
            pieces.push(Run {
                start: r.start + at.off + n,
                len: r.len - at.off - n,
                ..r
            });
        }
        let runs = self.runs_mut(leaf);
        runs.splice(index..=index, pieces.iter().copied());
        index += usize::from(at.off > 0);
        for p in &pieces {
            let k = self.run_key(p);
            self.leaf_of.insert(k, leaf);
        }
        let delta = if deleted { -(n as isize) } else { n as isize };
        self.adjust(leaf, 0, delta);
        // Keep runs whole: a flipped piece joins a neighbour of the same op and flag.
        self.join(leaf, index);
        if index > 0 {
            self.join(leaf, index - 1);
        }
        self.split(leaf);
    }

    /// Join run `index` of `leaf` with the next one if they continue each other.
    fn join(&mut self, leaf: u32, index: usize) {
        let runs = self.runs(leaf);
        if index + 1 >= runs.len() {
            return;
        }
        let (a, b) = (runs[index], runs[index + 1]);
        if a.op == b.op && a.start + a.len == b.start && a.deleted == b.deleted {
            let gone = self.run_key(&b);
            let runs = self.runs_mut(leaf);
            runs[index].len += b.len;
            runs.remove(index + 1);
            self.leaf_of.remove(&gone);
        }
    }

    /// Delete `count` elements from `first` (deleting twice is deleting once); returns
    /// how many were there.
    pub fn delete(&mut self, first: Elem, count: u32) -> Result<usize, TextError> {
        if !self.contains_run(&first, count) {
            return Err(TextError::Missing(show(&first)));
        }
        let k = self.key_of(&first).expect("contained");
        let changed = self.set_deleted(k, count, true);
        let n = changed.iter().map(|(_, n)| *n as usize).sum();
        if let Some(journal) = &mut self.journal {
            journal.extend(changed.into_iter().map(|(k, n)| Undo::Deleted(k, n)));
        }
        Ok(n)
    }

    /// Delete the visible characters `start..end`; returns them as runs of consecutive
    /// elements (what [`Self::visible_runs`] said before), in text order.
    pub fn erase(&mut self, start: usize, end: usize) -> Result<Vec<(Elem, u32)>, TextError> {
        let runs = self.visible_runs(start, end)?;
        for (first, count) in &runs {
            self.delete(*first, *count)?;
        }
        Ok(runs)
    }

    // --- reading ------------------------------------------------------------------------

    /// Where an insert at visible `index` goes: `(parent, side)` (Fugue's rule: the right
    /// child of the character before if it has none, else the left child of the next).
    pub fn place(&self, index: usize) -> Result<(Option<Elem>, u8), TextError> {
        if index > self.len() {
            return Err(TextError::OutOfRange {
                index,
                len: self.len(),
            });
        }
        if index == 0 {
            return self.place_after(None);
        }
        let at = self.visible_at(index - 1);
        Ok(self.after(
            self.run_key(&self.runs(at.leaf)[at.run]) + u64::from(at.off),
            at,
        ))
    }

    /// Where an insert right after `left` goes (a character or a tombstone; None: the
    /// start): its right child if it has none, else the left child of the element after it.
    pub fn place_after(&self, left: Option<Elem>) -> Result<(Option<Elem>, u8), TextError> {
        let Some(left) = left else {
            return Ok(match self.walk_from(self.start()).next() {
                Some((k, _, _)) => (Some(self.elem(k)), LEFT),
                None => (None, RIGHT),
            });
        };
        let k = self
            .key_of(&left)
            .ok_or_else(|| TextError::Missing(show(&left)))?;
        let at = self
            .locate(k)
            .ok_or_else(|| TextError::Missing(show(&left)))?;
        Ok(self.after(k, at))
    }

    fn after(&self, k: Key, at: At) -> (Option<Elem>, u8) {
        if self.greatest_right(k).is_none() {
            return (Some(self.elem(k)), RIGHT);
        }
        match self
            .walk_from(At {
                off: at.off + 1,
                ..at
            })
            .find(|r| r.1 > 0)
        {
            Some((next, _, _)) => (Some(self.elem(next)), LEFT),
            None => (None, RIGHT),
        }
    }

    /// The insert op that starts at `first`: its parent, side and characters.
    pub fn insert_op(&self, first: &Elem) -> Option<(Option<Elem>, u8, String)> {
        let op = self.ops[*self.op_at.get(&self.key_of(first)?)? as usize];
        let parent = (op.parent != ROOT).then(|| self.elem(op.parent));
        let from = op.chars as usize;
        Some((
            parent,
            op.side,
            self.chars[from..from + op.len as usize].iter().collect(),
        ))
    }

    /// An element's character and whether it is deleted.
    pub fn node(&self, e: &Elem) -> Option<(char, bool)> {
        let at = self.locate(self.key_of(e)?)?;
        let r = self.runs(at.leaf)[at.run];
        let k = self.run_key(&r) + u64::from(at.off);
        Some((self.op_chars(k, 1)[0], r.deleted))
    }

    /// The visible index of `e`; for a deleted one, of the next character still there.
    pub fn index_of(&self, e: &Elem) -> Result<usize, TextError> {
        let at = self
            .key_of(e)
            .and_then(|k| self.locate(k))
            .ok_or_else(|| TextError::Missing(show(e)))?;
        Ok(self.index_at(at).visible)
    }

    /// The visible characters `start..end` as runs of consecutive elements.
    pub fn visible_runs(&self, start: usize, end: usize) -> Result<Vec<(Elem, u32)>, TextError> {
        self.check_range(start, end)?;
        let mut out: Vec<(Key, u32)> = Vec::new();
        if start == end {
            return Ok(Vec::new());
        }
        let mut left = end - start;
        for (k, len, deleted) in self.walk_from(self.visible_at(start)) {
            if deleted || len == 0 {
                continue;
            }
            let n = (len as usize).min(left) as u32;
            match out.last_mut() {
                Some((f, m)) if *f + u64::from(*m) == k && entry_of(*f) == entry_of(k) => *m += n,
                _ => out.push((k, n)),
            }
            left -= n as usize;
            if left == 0 {
                break;
            }
        }
        Ok(out.into_iter().map(|(k, n)| (self.elem(k), n)).collect())
    }

    fn check_range(&self, start: usize, end: usize) -> Result<(), TextError> {
        if start > end || end > self.len() {
            return Err(TextError::OutOfRange {
                index: end.max(start),
                len: self.len(),
            });
        }
        Ok(())
    }

    fn op_chars(&self, k: Key, n: u32) -> &[char] {
        let op = self.ops[self.op_of(k).expect("in the text") as usize];
        let from = (op.chars + (k - op.first) as u32) as usize;
        &self.chars[from..from + n as usize]
    }

    /// The visible characters `start..end`.
    pub fn slice(&self, start: usize, end: usize) -> Result<String, TextError> {
        self.check_range(start, end)?;
        let mut out = String::with_capacity(end - start);
        if start == end {
            return Ok(out);
        }
        let mut left = end - start;
        for (k, len, deleted) in self.walk_from(self.visible_at(start)) {
            if deleted || len == 0 {
                continue;
            }
            let n = (len as usize).min(left) as u32;
            out.extend(self.op_chars(k, n));
            left -= n as usize;
            if left == 0 {
                break;
            }
        }
        Ok(out)
    }

    /// The whole visible text.
    pub fn text(&self) -> String {
        self.slice(0, self.len()).expect("the whole text")
    }

    /// Every element in walk order: (element, character, parent, side, deleted).
    pub fn nodes(&self) -> Vec<(Elem, char, Option<Elem>, u8, bool)> {
        let mut out = Vec::with_capacity(self.total());
        for (k, len, deleted) in self.walk_from(self.start()) {
            let op = self.ops[self.op_of(k).expect("in the text") as usize];
            for (i, c) in self.op_chars(k, len).iter().enumerate() {
                let e = k + i as u64;
                let (parent, side) = if e == op.first {
                    (op.parent, op.side)
                } else {
                    (e - 1, RIGHT)
                };
                let parent = (parent != ROOT).then(|| self.elem(parent));
                out.push((self.elem(e), *c, parent, side, deleted));
            }
        }
        out
    }

    /// [`Self::nodes`] as the document state encodes them (docs/format.md, "Document
    /// state"): per element, in walk order, `entry ‖ index u32 ‖ deleted u8 ‖ char_len u32
    /// ‖ char ‖ (0 ‖ side | 1 ‖ parent entry ‖ parent index u32 ‖ side)`.
    pub fn encode_nodes(&self, out: &mut Vec<u8>) {
        let mut utf8 = [0u8; 4];
        for (e, c, parent, side, deleted) in self.nodes() {
            out.extend_from_slice(&e.entry);
            out.extend_from_slice(&e.index.to_be_bytes());
            out.push(u8::from(deleted));
            let c = c.encode_utf8(&mut utf8);
            out.extend_from_slice(&(c.len() as u32).to_be_bytes());
            out.extend_from_slice(c.as_bytes());
            match parent {
                None => out.extend_from_slice(&[0, side]),
                Some(p) => {
                    out.push(1);
                    out.extend_from_slice(&p.entry);
                    out.extend_from_slice(&p.index.to_be_bytes());
                    out.push(side);
                }
            }
        }
    }

    /// A text from its nodes (any order): the walk is the tree's, whatever order they
    /// came in.
    pub fn from_nodes(nodes: &[(Elem, char, Option<Elem>, u8, bool)]) -> Result<Self, TextError> {
        let mut children: HashMap<Option<Elem>, Vec<usize>> = HashMap::new();
        for (i, (_, _, parent, side, _)) in nodes.iter().enumerate() {
            if *side > RIGHT {
                return Err(TextError::BadSide(*side));
            }
            children.entry(*parent).or_default().push(i);
        }
        let mut seq = Sequence::new();
        let mut queue = std::collections::VecDeque::from([None]);
        let mut placed = 0;
        while let Some(parent) = queue.pop_front() {
            for &i in children.get(&parent).map(Vec::as_slice).unwrap_or_default() {
                let (e, c, _, side, deleted) = nodes[i];
                seq.insert(parent, side, e, &[c]).map_err(|err| match err {
                    TextError::Duplicate(_) => TextError::NotATree("an element twice"),
                    other => other,
                })?;
                if deleted {
                    seq.delete(e, 1)?;
                }
                placed += 1;
                queue.push_back(Some(e));
            }
        }
        if placed != nodes.len() {
            return Err(TextError::NotATree("a character not under the root"));
        }
        Ok(seq)
    }

    // --- transactions -------------------------------------------------------------------

    /// Start recording what `rollback` undoes (a mark already set stays).
    pub fn mark(&mut self) {
        self.journal.get_or_insert_with(Vec::new);
    }

    /// Keep everything since the mark, and stop recording.
    pub fn release(&mut self) {
        self.journal = None;
    }

    /// Undo everything since the mark, newest first, and stop recording.
    pub fn rollback(&mut self) -> Result<(), TextError> {
        let journal = self.journal.take().ok_or(TextError::NoMark)?;
        for undo in journal.into_iter().rev() {
            match undo {
                Undo::Deleted(k, n) => {
                    self.set_deleted(k, n, false);
                }
                Undo::Inserted => self.remove_last_op(),
            }
        }
        Ok(())
    }

    fn remove_last_op(&mut self) {
        let op = (self.ops.len() - 1) as u32;
        let o = self.ops[op as usize];
        let starts: Vec<Key> = self
            .leaf_of
            .range(o.first..o.first + u64::from(o.len))
            .map(|(&k, _)| k)
            .collect();
        for k in starts {
            let at = self.locate(k).expect("a run of the op");
            let r = self.runs_mut(at.leaf).remove(at.run);
            self.leaf_of.remove(&k);
            self.adjust(at.leaf, -(r.len as isize), -(r.visible() as isize));
            if at.run > 0 {
                self.join(at.leaf, at.run - 1); // the run it had cut in two is whole again
            }
        }
        self.unlink(op);
        self.op_at.remove(&o.first);
        self.chars.truncate(o.chars as usize);
        self.ops.pop();
    }

    /// Apply a batch of ops in one call (see [`TextOp`]); stops at the first refusal,
    /// returning its position and reason (the ops before it stay applied).
    pub fn apply(&mut self, ops: &[TextOp]) -> Result<(), (usize, TextError)> {
        for (i, op) in ops.iter().enumerate() {
            match op {
                TextOp::Insert {
                    parent,
                    side,
                    first,
                    text,
                } => self.insert(*parent, *side, *first, text),
                TextOp::Delete { first, count } => self.delete(*first, *count).map(|_| ()),
            }
            .map_err(|e| (i, e))?;
        }
        Ok(())
    }
}

/// One op of a batch for [`Sequence::apply`].
#[derive(Clone, Debug)]
pub enum TextOp {
    /// Insert `text` as a run from `first` under `parent` on `side`.
    Insert {
        /// The parent (None: the root).
        parent: Option<Elem>,
        /// LEFT or RIGHT.
        side: u8,
        /// The first element.
        first: Elem,
        /// The characters.
        text: Vec<char>,
    },
    /// Delete `count` elements from `first`.
    Delete {
        /// The first element.
        first: Elem,
        /// How many.
        count: u32,
    },
}

fn show(e: &Elem) -> String {
    let hex: String = e.entry[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}…/{}", e.index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(entry: u8, index: u32) -> Elem {
        Elem {
            entry: [entry; 32],
            index,
        }
    }

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn typing_and_deleting() {
        let mut seq = Sequence::new();
        seq.insert(None, RIGHT, e(1, 0), &chars("hello world"))
            .unwrap();
        assert_eq!(seq.text(), "hello world");
        seq.delete(e(1, 5), 6).unwrap();
        assert_eq!(seq.text(), "hello");
        assert_eq!(seq.total(), 11);
        let (p, s) = seq.place(5).unwrap();
        seq.insert(p, s, e(2, 0), &chars("!")).unwrap();
        assert_eq!(seq.text(), "hello!");
        assert_eq!(seq.index_of(&e(1, 7)).unwrap(), 6);
        assert_eq!(
            seq.visible_runs(1, 6).unwrap(),
            vec![(e(1, 1), 4), (e(2, 0), 1)]
        );
    }

    #[test]
    fn concurrent_runs_do_not_interleave() {
        let mut seq = Sequence::new();
        seq.insert(None, RIGHT, e(1, 0), &chars("ab")).unwrap();
        // Two writers type after "a" at once: sibling subtrees, greater id after.
        seq.insert(Some(e(1, 0)), RIGHT, e(3, 0), &chars("xyz"))
            .unwrap();
        seq.insert(Some(e(1, 0)), RIGHT, e(2, 0), &chars("123"))
            .unwrap();
        assert_eq!(seq.text(), "ab123xyz");
    }

    #[test]
    fn many_runs_split_the_tree_and_rollback_restores_it() {
        let mut seq = Sequence::new();
        for i in 0..500u32 {
            let (p, s) = seq.place((i as usize * 7) % (seq.len() + 1)).unwrap();
            seq.insert(p, s, e(1, i * 2), &chars("xy")).unwrap();
        }
        let before = seq.nodes();
        let text = seq.text();
        seq.mark();
        seq.delete(e(1, 10), 2).unwrap();
        let (p, s) = seq.place(3).unwrap();
        seq.insert(p, s, e(9, 0), &chars("new")).unwrap();
        seq.delete(e(9, 1), 1).unwrap();
        seq.rollback().unwrap();
        assert_eq!(seq.text(), text);
        assert_eq!(seq.nodes(), before);
    }

    #[test]
    fn refusals() {
        let mut seq = Sequence::new();
        assert_eq!(
            seq.delete(e(1, 0), 1),
            Err(TextError::Missing(show(&e(1, 0))))
        );
        seq.insert(None, RIGHT, e(1, 0), &chars("ab")).unwrap();
        assert!(matches!(
            seq.insert(None, RIGHT, e(1, 1), &chars("c")),
            Err(TextError::Duplicate(_))
        ));
        assert!(matches!(
            seq.insert(None, 2, e(2, 0), &chars("c")),
            Err(TextError::BadSide(2))
        ));
        assert!(matches!(seq.place(3), Err(TextError::OutOfRange { .. })));
        assert!(matches!(seq.rollback(), Err(TextError::NoMark)));
    }

    proptest::proptest! {
        #[test]
        fn hostile_calls_never_panic(data in proptest::collection::vec(0u8..=255, 0..600)) {
            crate::fuzzing::check_text_kernel(&data);
        }
    }

    #[test]
    fn nodes_round_trip() {
        let mut seq = Sequence::new();
        seq.insert(None, RIGHT, e(1, 0), &chars("abc")).unwrap();
        seq.insert(Some(e(1, 1)), RIGHT, e(2, 0), &chars("X"))
            .unwrap();
        seq.insert(Some(e(1, 0)), LEFT, e(3, 0), &chars("Y"))
            .unwrap();
        seq.delete(e(1, 2), 1).unwrap();
        let again = Sequence::from_nodes(&seq.nodes()).unwrap();
        assert_eq!(again.nodes(), seq.nodes());
        assert_eq!(again.text(), seq.text());
    }
}
