use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_PER_PAGE: i64 = 50;
pub const MAX_PER_PAGE: i64 = 500;

/// Which page of a list a client wants (1-based).
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageRequest {
    /// Page number, from 1.
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    pub per_page: Option<i64>,
}

impl PageRequest {
    pub fn first(per_page: i64) -> PageRequest {
        PageRequest {
            page: Some(1),
            per_page: Some(per_page),
        }
    }

    pub fn validate(self) -> Result<PageRequest> {
        if self.page.is_some_and(|p| p < 1) {
            return Err(Error::invalid("page", "must be 1 or more"));
        }
        if self
            .per_page
            .is_some_and(|n| !(1..=MAX_PER_PAGE).contains(&n))
        {
            return Err(Error::invalid(
                "per_page",
                format!("must be between 1 and {MAX_PER_PAGE}"),
            ));
        }
        Ok(self)
    }

    pub fn page(self) -> i64 {
        self.page.unwrap_or(1).max(1)
    }

    pub fn limit(self) -> i64 {
        self.per_page
            .unwrap_or(DEFAULT_PER_PAGE)
            .clamp(1, MAX_PER_PAGE)
    }

    pub fn offset(self) -> i64 {
        (self.page() - 1).saturating_mul(self.limit())
    }

    pub fn wrap<T>(self, items: Vec<T>, total: i64) -> Result<Page<T>> {
        Ok(Page {
            items,
            total,
            page: self.page(),
            per_page: self.limit(),
        })
    }

    /// Cuts one page out of a list built in memory.
    pub fn slice<T>(self, mut all: Vec<T>) -> Page<T> {
        let total = all.len() as i64;
        let start = (self.offset().min(total)) as usize;
        let end = (start + self.limit() as usize).min(all.len());
        let items = all.drain(start..end).collect();
        Page {
            items,
            total,
            page: self.page(),
            per_page: self.limit(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Items in the whole list, across pages.
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

impl<T> Page<T> {
    /// How many pages the whole list takes (at least one).
    pub fn pages(&self) -> i64 {
        (self.total + self.per_page - 1)
            .div_euclid(self.per_page.max(1))
            .max(1)
    }
}
