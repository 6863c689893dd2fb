"""The sample articles ("Load the sample articles" in the UI, ``scripts/run-app``), shipped as
package data and found through ``importlib.resources`` (:func:`assistant.frontends.ui.app.samples_dir`);
nothing to import here. Ingest skips this file (``.py`` is not an article type)."""
