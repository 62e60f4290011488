"""Run storage: content-addressed run directories, validated run files, atomic writes and locks."""
