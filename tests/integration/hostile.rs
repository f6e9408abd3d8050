//! Attacks on cairn, one test per finding: a share writer forging backups, a repository that
//! tries to make restore leave its target, a user who can write a service directory, a share
//! that serves damaged or oversized objects. Each test asserts the effect an operator would
//! check: no file outside the target, no command run, no forged key or definition adopted, no
//! forged `latest`, bounded memory. The submodules are grouped by the layer attacked.

mod backup;
mod groups;
mod objstore;
mod privacy;
mod restore;
mod signing;
mod target;
