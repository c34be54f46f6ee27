"""Studies behind the embedded envs' defaults and the RL-L2O recipe (python -m experiments.studies.<script>)."""
