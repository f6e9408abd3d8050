//! The tree walk of a restore: decode each directory's tree (within the budget), make its
//! directories and symlinks through [`Dir`] handles, and queue its files for the writers.
//!
//! A directory's owner, mode and times are set when the last handle on it is dropped, that is
//! after the walk has left it and every file queued in it is written (writing into a directory
//! changes its mtime, and a read-only mode must come last).

use super::budget::Budget;
use super::confined::{set_meta, Dir};
use super::Ctx;
use crate::error::{Error, Result};
use crate::format::manifest::ServiceRecord;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::id::ChunkId;
use crossbeam_channel::Sender;
use std::sync::Arc;

/// Deepest directory nesting restored. (The backup walks real paths, which Linux limits to
/// 4096 bytes: an honest tree is never deeper than 2048 levels.)
pub(crate) const MAX_DEPTH: usize = 2048;

/// An open directory of the restore, with the metadata to give it once done with.
pub(crate) struct Handle {
    pub(crate) dir: Dir,
    meta: Option<Node>,
    is_root: bool,
}

impl Handle {
    fn new(dir: Dir, meta: Option<Node>, is_root: bool) -> Arc<Self> {
        Arc::new(Handle { dir, meta, is_root })
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(n) = &self.meta {
            set_meta(self.dir.fd(), n, self.is_root);
        }
    }
}

/// A file for the writers: its directory, name, node, and its path for messages.
pub(crate) struct Job {
    pub(crate) dir: Arc<Handle>,
    pub(crate) name: Vec<u8>,
    pub(crate) node: Node,
    /// `service/path/inside/it`, for messages.
    pub(crate) shown: String,
}

/// One restore's walk.
pub(crate) struct Walk<'a, 'b> {
    pub(crate) ctx: &'a Ctx<'b>,
    pub(crate) tx: Sender<Job>,
    pub(crate) path: Option<&'a str>,
}

fn join(shown: &str, name: &[u8]) -> String {
    format!("{shown}/{}", String::from_utf8_lossy(name))
}

impl Walk<'_, '_> {
    /// Restore service `s` (whose name the caller checked) into `target`.
    pub(crate) fn service(&self, target: &Dir, s: &ServiceRecord) -> Result<()> {
        let mut budget = Budget::new(self.ctx.backup, s);
        budget.root()?;
        let root = s.root_node();
        let overwrite = self.ctx.overwrite;
        let parts: Vec<&str> = self
            .path
            .unwrap_or("")
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        let Some((_, parents)) = parts.split_last() else {
            return self.dir(target, &root, &s.name, &mut budget, 0);
        };
        let node = self.find(&root, &parts, &mut budget)?;
        let mut dir = target
            .subdir(s.name.as_bytes(), overwrite)
            .map_err(|e| self.io(&s.name, e))?;
        let mut shown = s.name.clone();
        for name in parents {
            shown = join(&shown, name.as_bytes());
            dir = dir
                .subdir(name.as_bytes(), overwrite)
                .map_err(|e| self.io(&shown, e))?;
        }
        let h = Handle::new(dir, None, self.ctx.is_root);
        budget.take(&node)?;
        self.entry(&h, &node, &shown, &mut budget, parents.len())
    }

    fn io(&self, shown: &str, e: std::io::Error) -> Error {
        Error::io(format!("{}/{shown}", self.ctx.target), e)
    }

    /// A directory's tree: its size and kind checked before it is read, its entry count
    /// against the budget before it is decoded. The outer error stops the restore (budget,
    /// identity); the inner one is a damaged directory.
    fn tree(&self, id: &ChunkId, budget: &Budget) -> Result<Result<Tree>> {
        if let Err(e) = self.ctx.locator.check_tree(id) {
            return Ok(Err(e));
        }
        let bytes = match self.ctx.reader.read(id, self.ctx.backup) {
            Ok(b) => b,
            Err(e @ Error::WrongIdentity { .. }) => return Err(e),
            Err(e) => return Ok(Err(e)),
        };
        let n = match Tree::entry_count(&bytes) {
            Ok(n) => n,
            Err(e) => return Ok(Err(e)),
        };
        budget.tree(n)?;
        Ok(Tree::decode_limited(&bytes, budget.entries_left()))
    }

    /// Find the node at `parts` (not empty) below `root`.
    fn find(&self, root: &Node, parts: &[&str], budget: &mut Budget) -> Result<Node> {
        let mut node = root.clone();
        for (i, part) in parts.iter().enumerate() {
            let NodeKind::Dir { tree } = &node.kind else {
                return Err(Error::usage(
                    format!("{} is not a directory in the backup", parts[..i].join("/")),
                    "check the path with `cairn mount` or restore the whole service",
                ));
            };
            let mut t = self.tree(tree, budget)??;
            let k = t
                .nodes
                .binary_search_by(|n| n.name[..].cmp(part.as_bytes()))
                .map_err(|_| {
                    Error::usage(
                        format!("no {} in the backup", parts.join("/")),
                        "paths are relative to the service's root, e.g. --path conf/d5",
                    )
                })?;
            node = t.nodes.swap_remove(k);
        }
        Ok(node)
    }

    /// Restore one entry into the open directory `parent` (`shown` is the parent's path).
    fn entry(
        &self,
        parent: &Arc<Handle>,
        node: &Node,
        shown: &str,
        budget: &mut Budget,
        depth: usize,
    ) -> Result<()> {
        let here = join(shown, &node.name);
        match &node.kind {
            NodeKind::Dir { .. } => self.dir(&parent.dir, node, &here, budget, depth + 1),
            NodeKind::File { .. } | NodeKind::FileSegments { .. } => self
                .tx
                .send(Job {
                    dir: parent.clone(),
                    name: node.name.clone(),
                    node: node.clone(),
                    shown: here,
                })
                .map_err(|_| {
                    Error::failed(
                        "restore writers stopped",
                        "retry the restore; if they stop again, report a bug with the panic \
                         message printed above",
                    )
                }),
            NodeKind::Symlink { target } => {
                let d = &parent.dir;
                let made = if self.ctx.overwrite {
                    d.symlink_temp(target).and_then(|tmp| {
                        d.set_link_meta(&tmp, node, self.ctx.is_root);
                        d.commit(&tmp, &node.name).inspect_err(|_| d.discard(&tmp))
                    })
                } else {
                    d.symlink_new(target, &node.name)
                        .map(|()| d.set_link_meta(&node.name, node, self.ctx.is_root))
                };
                made.map_err(|e| self.io(&here, e))
            }
        }
    }

    /// Make the directory `node` in `parent` (`here` is its path) and restore its entries into it.
    fn dir(
        &self,
        parent: &Dir,
        node: &Node,
        here: &str,
        budget: &mut Budget,
        depth: usize,
    ) -> Result<()> {
        let dir = parent
            .subdir(&node.name, self.ctx.overwrite)
            .map_err(|e| self.io(here, e))?;
        self.ctx.report().dirs += 1;
        let h = Handle::new(dir, Some(node.clone()), self.ctx.is_root);
        self.fill(&h, node, here, budget, depth)
    }

    /// Restore the entries of directory `node` into its open handle `h` (`shown` is its path).
    fn fill(
        &self,
        h: &Arc<Handle>,
        node: &Node,
        shown: &str,
        budget: &mut Budget,
        depth: usize,
    ) -> Result<()> {
        let NodeKind::Dir { tree } = &node.kind else {
            return Ok(());
        };
        if depth > MAX_DEPTH {
            return Err(Error::corrupt(
                format!("backup {}", self.ctx.backup),
                format!("{shown} is nested deeper than {MAX_DEPTH} directories"),
            ));
        }
        let t = match self.tree(tree, budget)? {
            Ok(t) => t,
            Err(e) => {
                self.ctx.damage(format!("directory {shown}: {e}"));
                return Ok(());
            }
        };
        for n in &t.nodes {
            self.ctx.progress.check_cancel()?;
            budget.take(n)?;
            self.entry(h, n, shown, budget, depth)?;
        }
        Ok(())
    }
}
