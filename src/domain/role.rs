use super::macros::text_enum;

text_enum!(
    /// What an account (or one of its API tokens) may do. Ordered: each role
    /// includes the ones below it; an approver is an editor who may also approve.
    Role {
        Viewer => "viewer",
        Editor => "editor",
        Approver => "approver",
        Admin => "admin",
    }
);

impl Role {
    pub fn includes(self, required: Role) -> bool {
        self >= required
    }
}
