"""Multilayer perceptron: the image is pooled to a fixed grid, flattened and passed through hidden layers."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 256
DEPTH = 2
GRID = 8
ACTIVATION = nn.ReLU
NORM = nn.BatchNorm1d
POOL = nn.AdaptiveAvgPool2d


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        in_channels = in_shape[1]
        num_classes = out_shape[0]
        channels = in_channels * GRID * GRID
        self.pool = POOL(GRID)
        layers = [nn.Flatten()]
        for index in range(DEPTH):
            layers.append(nn.Linear(channels, WIDTH))
            layers.append(NORM(WIDTH))
            layers.append(ACTIVATION())
            layers.append(nn.Dropout(prm['dropout']))
            channels = WIDTH
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.body(self.pool(x))
        return self.head(x)

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = nn.CrossEntropyLoss().to(self.device)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria(self(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
