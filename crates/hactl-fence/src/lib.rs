//! The fencer's building blocks: the native fence_xvm client ([`xvm`]), external fence
//! agents per the FenceAgentAPI ([`agent_api`]), fence devices and which nodes they
//! cover ([`device`]), fencing levels ([`topology`]) and agent metadata ([`metadata`]).
pub mod agent_api;
pub mod cluster;
pub mod device;
pub mod metadata;
pub mod topology;
pub mod xvm;
