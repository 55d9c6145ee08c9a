// The opportunity board: drag a card to another column to change its stage.
// A drop sets the card's own stage select and submits its form (htmx), so the drag
// and the no-JavaScript path are one request. The server answers with the card as it
// now is; a card whose stage is not its column's (a refused move) goes back.
(function () {
  "use strict";

  function columnOf(stageId) {
    return document.querySelector('.board-column[data-stage="' + stageId + '"] .board-cards');
  }

  function place(card) {
    var home = columnOf(card.dataset.stage);
    if (home && card.parentElement !== home) {
      home.prepend(card);
    }
  }

  function onDrop(event) {
    var column = event.currentTarget;
    var id = event.dataTransfer.getData("text/plain");
    var card = document.getElementById(id);
    column.classList.remove("drop-target");
    if (!card || card.dataset.stage === column.dataset.stage) {
      return;
    }
    event.preventDefault();
    var form = card.querySelector("form.deal-move");
    form.querySelector("select").value = column.dataset.stage;
    column.querySelector(".board-cards").prepend(card);
    form.requestSubmit();
  }

  function setUp() {
    var board = document.getElementById("board");
    if (!board) {
      return;
    }
    board.addEventListener("dragstart", function (event) {
      var card = event.target.closest && event.target.closest(".deal-card");
      if (card) {
        event.dataTransfer.setData("text/plain", card.id);
        event.dataTransfer.effectAllowed = "move";
      }
    });
    board.querySelectorAll(".board-column").forEach(function (column) {
      column.addEventListener("dragover", function (event) {
        event.preventDefault();
        column.classList.add("drop-target");
      });
      column.addEventListener("dragleave", function () {
        column.classList.remove("drop-target");
      });
      column.addEventListener("drop", onDrop);
    });
    // htmx swaps the answered card in; put it in the column of its stage.
    document.body.addEventListener("htmx:afterSettle", function (event) {
      var card = event.detail.elt;
      if (card && card.classList && card.classList.contains("deal-card")) {
        place(card);
      }
    });
    // Cards are on the page before this runs (the script is deferred): a drop before
    // then would do nothing, so the board says when it takes drops.
    board.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", setUp);
})();
