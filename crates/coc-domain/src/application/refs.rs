//! References to applications (R6): how a definition hands out the
//! application references it holds, so the store can keep ids and speak
//! names. Apart from [`super`] so that every definition can implement it
//! without depending on what a valid application is.

/// A definition that refers to applications (R6): a forwarding rule, an
/// emergency plan, a scheduled task's host filter, an escalation policy,
/// a notification rule, an SLA, a scheduling scenario.
///
/// Stored, each reference holds the application's id, so that a renamed
/// application stays referred to and one still referred to cannot vanish;
/// given and answered (API, console, CLI) and while matching, it holds the
/// application's name. The store swaps one for the other through
/// [`AppRefs::app_refs`].
pub trait AppRefs {
    /// Every application reference it holds, to be rewritten in place.
    fn app_refs(&mut self) -> Vec<&mut String>;
}

/// Rewrites every application reference of `t` with `f` (a name to an id
/// or back), stopping at the first error.
///
/// Errors: whatever `f` returns, e.g. for an application that does not
/// exist.
pub fn map_app_refs<T: AppRefs + ?Sized, E>(
    t: &mut T,
    mut f: impl FnMut(&str) -> Result<String, E>,
) -> Result<(), E> {
    for r in t.app_refs() {
        *r = f(r.trim())?;
    }
    Ok(())
}
