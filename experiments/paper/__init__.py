"""The paper's figures and tables, reproduced on the embedded envs (python -m experiments.paper.<script>)."""
