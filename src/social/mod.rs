//! Social posts: how each network counts a post's length, and (to come)
//! publishing each approved variant exactly once through the job mechanism.

pub mod text;
