//! The binary's command line: `--help` and `--version` work without any configuration.

use std::process::Command;

#[test]
fn help_and_version_answer_without_configuration() -> anyhow::Result<()> {
    let binary = env!("CARGO_BIN_EXE_messenger");
    let help = Command::new(binary).arg("--help").env("DATABASE_URL", "postgres://nowhere/none").output()?;
    assert!(help.status.success(), "{}", String::from_utf8_lossy(&help.stderr));
    let text = String::from_utf8(help.stdout)?;
    for command in ["serve", "migrate", "seed"] {
        assert!(text.contains(command), "{text}");
    }
    let version = Command::new(binary).arg("--version").output()?;
    assert!(version.status.success());
    let unknown = Command::new(binary).arg("dance").output()?;
    assert!(!unknown.status.success(), "an unknown subcommand is an error");
    Ok(())
}
