"""What the tests share: paths rooted at the tests folder, the `kiai` subprocess runner and the worlds tests build."""
