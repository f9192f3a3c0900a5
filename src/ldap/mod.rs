pub mod dn;
