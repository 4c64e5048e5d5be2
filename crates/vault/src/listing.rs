//! The listing seam: every backend lists a prefix as a stream in byte order
//! of name, a page (Azure) or a directory (local disk, memory) at a time, so
//! that `seal`, `audit` and `verify` hold one page, never a whole vault.
//!
//! Two listers exist: [`DirWalk`] here, for object_store backends whose own
//! `list` promises no order (the local disk walks directories in the order
//! the file system gives), and the Azure writer's `List Blobs` paging
//! ([`crate::azure::AzureWriter`]), whose service lists in name order.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::ObjectStore;
use object_store::path::Path;
use tvault_core::ports::{Listed, VaultError};

use crate::store_error::store_error;

/// A backend's ordered listing.
pub trait Lister: std::fmt::Debug + Send + Sync + 'static {
    /// Every object under the folder `prefix` (`/`-terminated, or empty for
    /// all), once each, in byte order of name. The caller filters further.
    fn list_ordered<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<Listed, VaultError>>;
}

/// A depth-first walk over `list_with_delimiter`, one directory at a time,
/// each sorted. Memory: the unvisited entries of the directories on the
/// current path (for `index/{yyyy}/{mm}/{dd}/`, one day's markers).
pub struct DirWalk {
    store: Arc<dyn ObjectStore>,
}

impl DirWalk {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }
}

// Not derived: a store may print its credential in `Debug`.
impl std::fmt::Debug for DirWalk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirWalk").finish_non_exhaustive()
    }
}

enum Item {
    Object(Listed),
    Dir(Option<Path>),
}

impl Item {
    /// The sort key among siblings. A directory's names all start with
    /// `{dir}/`, so it sorts as `{dir}/`: `a.b/x` comes before `a/x`
    /// ('.' < '/'), as in a flat listing. No copy of the name is made (a
    /// directory of a day's index markers is sorted in place).
    fn key(&self) -> impl Iterator<Item = u8> + '_ {
        let (name, slash): (&str, &[u8]) = match self {
            Item::Object(l) => (&l.path, b""),
            Item::Dir(Some(p)) => (p.as_ref(), b"/"),
            Item::Dir(None) => ("", b""),
        };
        name.bytes().chain(slash.iter().copied())
    }
}

impl Lister for DirWalk {
    fn list_ordered<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<Listed, VaultError>> {
        let root = prefix.trim_end_matches('/');
        let root = (!root.is_empty()).then(|| Path::from(root));
        // One iterator of sorted, unvisited entries per directory on the path.
        let stack: Vec<std::vec::IntoIter<Item>> = vec![vec![Item::Dir(root)].into_iter()];
        futures::stream::try_unfold(stack, move |mut stack| async move {
            loop {
                let Some(level) = stack.last_mut() else {
                    return Ok(None);
                };
                match level.next() {
                    None => {
                        stack.pop();
                    }
                    Some(Item::Object(l)) => return Ok(Some((l, stack))),
                    Some(Item::Dir(dir)) => {
                        let r = self
                            .store
                            .list_with_delimiter(dir.as_ref())
                            .await
                            .map_err(|e| store_error("list", prefix, e))?;
                        let mut items: Vec<Item> = r
                            .common_prefixes
                            .into_iter()
                            .map(|p| Item::Dir(Some(p)))
                            .chain(r.objects.into_iter().map(|m| {
                                Item::Object(Listed {
                                    path: m.location.into(),
                                    size: m.size,
                                    last_modified: m.last_modified,
                                    e_tag: m.e_tag,
                                })
                            }))
                            .collect();
                        items.sort_by(|a, b| a.key().cmp(b.key()));
                        stack.push(items.into_iter());
                    }
                }
            }
        })
        .boxed()
    }
}
