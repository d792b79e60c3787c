use super::macros::text_enum;

text_enum!(
    /// What an API token may do. Ordered: each role includes the ones below it.
    Role {
        Viewer => "viewer",
        Editor => "editor",
        Admin => "admin",
    }
);

impl Role {
    pub fn includes(self, required: Role) -> bool {
        self >= required
    }
}
