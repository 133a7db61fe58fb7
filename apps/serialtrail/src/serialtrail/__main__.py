from serialtrail.cli import app

app()
