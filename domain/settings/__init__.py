"""The settings models: what `config/*.toml` may say, validated (pydantic), and reading it.

`config.py` holds the aggregate `Settings` and its loading; each platform's and the alerts'
sections have their own module beside it."""
