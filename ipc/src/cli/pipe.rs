//! `ipc pipe`: the ordinary-pipe part of the demo on its own (pipes have no name, so there is
//! no two-terminal version: the parent starts the child).

/// Runs the pipe demo.
pub fn run() -> anyhow::Result<()> {
    super::demo::pipes::run()
}
