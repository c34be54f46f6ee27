"""Environment classes; ids are registered in :mod:`asg_gym`."""
